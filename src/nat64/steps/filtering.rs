//! RFC 6146 §3.5, filtering and updating binding and session information:
//! find or create the BIB entry (§3.1) and the session (§3.2) a packet
//! belongs to, refresh its lifetime, and apply the filtering policy. UDP
//! §3.5.1, TCP §3.5.2 (the state machine of `tcp.rs`, the held-SYN store
//! of `held_syn.rs`), ICMP query §3.5.3; ICMP errors only look state up.
//!
//! Mapping is endpoint-independent always (§3.5.1.1: one BIB entry per
//! (X', x) whatever the destination); filtering endpoint-independent, or
//! address-dependent (RFC 4787 §5) with `filtering.address_dependent`,
//! whose check is one hashed lookup (`Tables::bib_has_remote_addr`). An
//! exhausted subscriber or pool is RFC 6888 REQ-11.
//!
//! Session floods (RFC 6888 REQ-4's spirit, for sessions rather than
//! ports), checked only where a session is created, never per packet of
//! an existing one:
//! - a subscriber holds at most `pool4.max_sessions_per_subscriber`
//!   sessions (0: no cap besides its ports); beyond it a new flow from
//!   the inside is refused (`SubscriberSessionLimit`, ICMPv6 destination
//!   unreachable code 3, as every refused mapping) and one from the
//!   outside dropped silently (same reason);
//! - a BIB entry gains at most `filtering.max_inbound_sessions_per_mapping`
//!   sessions opened by IPv4 packets (0: no cap); sessions the inside host
//!   opened do not count. Beyond it a packet that would open one is
//!   dropped silently (`InboundSessionLimit`): no ICMP error for what is
//!   likely a flood from spoofable sources;
//! - a full table makes room fairly (`Tables::reclaim`): an expired
//!   session first; else, for a session opened from the inside, one of
//!   the stalest few of each class (cheapest class first) held by a
//!   subscriber with more sessions than the asking one, else one of the
//!   asker's own; a session opened from the outside evicts nothing live.
//!   When nothing may go the flow is refused (`TableFull`).
//!
//! Deviation: §3.5.2.2 CLOSED says TCP segments other than a SYN SHOULD be
//! translated when a BIB entry exists. Without a session there is no state
//! to keep them by, so they are dropped (`NoSession`), as a restarted box
//! would; the endpoints reset and reconnect.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::ControlFlow;

use super::incoming::{Incoming4, Incoming6};
use super::Step;
use crate::nat64::counters::Nat64Drop;
use crate::nat64::direction::{Inbound, Outbound, TrafficDirection};
use crate::nat64::held_syn::HeldKey;
use crate::nat64::pipeline::{Action, Worker};
use crate::nat64::pool4::AllocError;
use crate::nat64::table::{BibEntry, BibId, KeyHash, SessionId, V4Key, V6Key};
use crate::nat64::tcp::{self, Side};
use crate::nat64::{Millis, Subscriber, TcpState, TimerClass, L4};
use crate::xlat::{Flow, PacketBuf};

/// The remote port a session is keyed by: ICMP query sessions are keyed by
/// address only (the identifier is the BIB's, and differs on each side).
#[inline(always)]
fn remote_port(l4: L4, port: u16) -> u16 {
    match l4 {
        L4::Icmp => 0,
        _ => port,
    }
}

/// §3.2: the key of the session of an IPv6 flow (X', x) -> (Y, y).
#[inline(always)]
pub(in crate::nat64) fn session_key_6(
    l4: L4,
    x6: Ipv6Addr,
    x_port: u16,
    y4: Ipv4Addr,
    y_port: u16,
) -> V6Key {
    V6Key {
        proto: l4,
        v6: x6,
        port: x_port,
        remote: y4,
        remote_port: remote_port(l4, y_port),
    }
}

/// §3.2: the key of the session of an IPv4 flow (Y, y) -> (T, t).
#[inline(always)]
pub(in crate::nat64) fn session_key_4(
    l4: L4,
    t4: Ipv4Addr,
    t_port: u16,
    y4: Ipv4Addr,
    y_port: u16,
) -> V4Key {
    V4Key {
        proto: l4,
        v4: t4,
        port: t_port,
        remote: y4,
        remote_port: remote_port(l4, y_port),
    }
}

impl Worker {
    /// §3.5 for an IPv6 packet: finds or creates the BIB entry and session
    /// (UDP §3.5.1, TCP §3.5.2, ICMP query §3.5.3) and returns the mapped
    /// IPv4 transport address (T, t). ICMPv6 errors only look up state.
    pub(in crate::nat64) fn filter_update_6(
        &mut self,
        buf: &mut PacketBuf,
        inc: &Incoming6,
        hint: Option<KeyHash>,
        now: Millis,
    ) -> Step<(Ipv4Addr, u16)> {
        let key = session_key_6(inc.l4, inc.x6, inc.x_port, inc.y4, inc.y_port);
        let error = inc.error_dst.is_some();
        if let Some(s) = self.existing_session::<Outbound>(&key, error, hint, inc.tcp_flags, now)? {
            let b = self.session_bib(s);
            return ControlFlow::Continue((b.v4, b.v4_port));
        }
        // No session. §3.5.2.2 CLOSED: only a V6 SYN opens a TCP session.
        if inc.l4 == L4::Tcp && !tcp::is_syn(inc.tcp_flags) {
            // Deliberate deviation (see the module docs).
            return ControlFlow::Break(self.drop(Nat64Drop::NoSession));
        }
        // The subscriber's session cap (module docs), before a port is
        // taken for it.
        if self.at_session_cap(&inc.x6) {
            return ControlFlow::Break(self.refuse6(buf, Nat64Drop::SubscriberSessionLimit, 3));
        }
        // §3.5.1.1 / §3.5.2.1 / §3.5.3: the BIB entry for (X', x), created
        // with a fresh (T, t) if missing (endpoint-independent mapping:
        // one entry whatever the destination).
        let bib = match self.tables.bib_by_v6(inc.l4, &inc.x6, inc.x_port) {
            Some(b) => b,
            None => self.new_bib(buf, inc, now)?,
        };
        let (t4, t_port) = {
            let b = self.tables.bib(bib);
            (b.v4, b.v4_port)
        };
        let (class, state) = match inc.l4 {
            L4::Udp => (TimerClass::Udp, TcpState::Closed),
            L4::Icmp => (TimerClass::Icmp, TcpState::Closed),
            L4::Tcp => {
                let held = HeldKey {
                    t4,
                    t_port,
                    y4: inc.y4,
                    y_port: inc.y_port,
                };
                // §3.5.2.2 V4 INIT + V6 SYN: a simultaneous open. The held
                // V4 SYN is silently dropped; the session is ESTABLISHED.
                if self.simultaneous_open(&held) {
                    (TimerClass::TcpEstablished, TcpState::Established)
                } else {
                    let open = tcp::opened_by(Side::V6);
                    (open.timer.unwrap_or(TimerClass::TcpTransitory), open.state)
                }
            }
        };
        let s = match self.new_session(bib, inc.y4, key.remote_port, class, Side::V6, now) {
            ControlFlow::Continue(s) => s,
            ControlFlow::Break(a) => {
                self.forget_unused_bib(bib, now);
                return ControlFlow::Break(a);
            }
        };
        self.tables.session_mut(s).tcp = state;
        ControlFlow::Continue((t4, t_port))
    }

    /// §3.5 for an IPv4 packet: checks the BIB entry for (T, t) and the
    /// filtering policy, creates or refreshes the session (UDP §3.5.1,
    /// TCP §3.5.2, ICMP query §3.5.3) and returns the IPv6 transport
    /// address (X', x). ICMPv4 errors only look up state.
    pub(in crate::nat64) fn filter_update_4(
        &mut self,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv4Addr>,
        inc: &Incoming4,
        hint: Option<KeyHash>,
        now: Millis,
    ) -> Step<(Ipv6Addr, u16)> {
        let key = session_key_4(inc.l4, inc.t4, inc.t_port, inc.y4, inc.y_port);
        let rport = key.remote_port;
        let error = inc.error_src.is_some();
        if let Some(s) = self.existing_session::<Inbound>(&key, error, hint, inc.tcp_flags, now)? {
            let b = self.session_bib(s);
            return ControlFlow::Continue((b.v6, b.v6_port));
        }
        let bib = self.tables.bib_by_v4(inc.l4, inc.t4, inc.t_port);
        // The outside address may be a pool address too: a packet to it
        // that no BIB entry claims is the box's own (cgn.toml [pool4]).
        if bib.is_none() && (inc.t4 == self.outside || self.is_echo_request_to_pool(buf, flow)) {
            self.counters.local += 1;
            return ControlFlow::Break(Action::Local);
        }
        // Filtering: endpoint-independent by default; address-dependent
        // (RFC 4787 §5) admits only remotes the inside host has sent to.
        match inc.l4 {
            L4::Udp => {
                // §3.5.1: no BIB entry -> discarded, with an ICMP
                // destination unreachable: port unreachable (code 3), what
                // a host answers for a closed UDP port (RFC 1122
                // §3.2.2.1, RFC 792), as NAT64 test suites expect. It
                // quotes the packet as far as 576 bytes allow (RFC 1812
                // §4.3.2.3, `icmpv4_error`) and is rate limited with every
                // error the box originates.
                let Some(b) = bib else {
                    return ControlFlow::Break(self.refuse4(buf, Nat64Drop::NoBib, 3, inc.t4));
                };
                // §3.5.1: filtered -> discarded, ICMP destination
                // unreachable code 13 (communication administratively
                // prohibited).
                if !self.admitted(b, inc.y4) {
                    return ControlFlow::Break(self.refuse4(buf, Nat64Drop::Filtered, 13, inc.t4));
                }
                self.new_session(b, inc.y4, rport, TimerClass::Udp, Side::V4, now)?;
                let e = self.tables.bib(b);
                ControlFlow::Continue((e.v6, e.v6_port))
            }
            L4::Icmp => {
                // §3.5.3: no BIB entry or filtered -> silently discarded.
                let Some(b) = bib else {
                    return ControlFlow::Break(self.drop(Nat64Drop::NoBib));
                };
                if !self.admitted(b, inc.y4) {
                    return ControlFlow::Break(self.drop(Nat64Drop::Filtered));
                }
                self.new_session(b, inc.y4, rport, TimerClass::Icmp, Side::V4, now)?;
                let e = self.tables.bib(b);
                ControlFlow::Continue((e.v6, e.v6_port))
            }
            L4::Tcp => {
                if !tcp::is_syn(inc.tcp_flags) {
                    // §3.5.2.2 CLOSED, any other packet: the deviation in
                    // the module docs.
                    return ControlFlow::Break(self.drop(Nat64Drop::NoSession));
                }
                // §3.5.2.2 CLOSED, V4 SYN: the security policy may drop
                // externally initiated connections outright.
                if self.drop_external_tcp {
                    return ControlFlow::Break(self.drop(Nat64Drop::ExternalTcp));
                }
                match bib {
                    // (X, x) is in the BIB and the filter admits Y: a new
                    // session in V4 INIT; the SYN is translated.
                    Some(b) if self.admitted(b, inc.y4) => {
                        let open = tcp::opened_by(Side::V4);
                        let class = open.timer.unwrap_or(TimerClass::TcpIncomingSyn);
                        let s = self.new_session(b, inc.y4, rport, class, Side::V4, now)?;
                        self.tables.session_mut(s).tcp = open.state;
                        let e = self.tables.bib(b);
                        ControlFlow::Continue((e.v6, e.v6_port))
                    }
                    // Not in the BIB (or filtered): the SYN is held for
                    // TCP_INCOMING_SYN; an IPv6 SYN for the same pair in
                    // that time makes it a simultaneous open, else it is
                    // answered with ICMP port unreachable (`tick`).
                    _ => {
                        let held = HeldKey {
                            t4: inc.t4,
                            t_port: inc.t_port,
                            y4: inc.y4,
                            y_port: inc.y_port,
                        };
                        ControlFlow::Break(self.hold_syn(buf, held, now))
                    }
                }
            }
        }
    }

    /// §3.5's first question, the same in both directions: the session
    /// `key` names (hashed: `hint`, if the caller has it). An ICMP error
    /// (`error`) only looks it up and must find it: §3.5, errors neither
    /// create nor refresh state, and one without a session is dropped
    /// (`NoSession`). Any other packet refreshes the session it finds
    /// ([`Worker::refresh`]). `Continue(None)`: no session yet.
    #[inline(always)]
    fn existing_session<D: TrafficDirection>(
        &mut self,
        key: &D::Key,
        error: bool,
        hint: Option<KeyHash>,
        tcp_flags: u8,
        now: Millis,
    ) -> Step<Option<SessionId>> {
        if error {
            let h = D::hash(&self.tables, key);
            return match D::lookup(&self.tables, h, key) {
                Some(s) => ControlFlow::Continue(Some(s)),
                None => ControlFlow::Break(self.drop(Nat64Drop::NoSession)),
            };
        }
        let h = hint.unwrap_or_else(|| D::hash(&self.tables, key));
        let found = D::lookup(&self.tables, h, key);
        if let Some(s) = found {
            self.refresh(s, D::proto(key), D::SIDE, tcp_flags, now);
        }
        ControlFlow::Continue(found)
    }

    /// A packet of an existing session, from `side`: refresh its lifetime
    /// (UDP §3.5.1, ICMP §3.5.3) or run the TCP state machine (§3.5.2.2).
    pub(in crate::nat64) fn refresh(
        &mut self,
        s: SessionId,
        l4: L4,
        side: Side,
        tcp_flags: u8,
        now: Millis,
    ) {
        self.refresh_inline(s, l4, side, tcp_flags, now)
    }

    /// [`Worker::refresh`], inlined where it is called (the established
    /// fast path's).
    #[inline(always)]
    pub(in crate::nat64) fn refresh_inline(
        &mut self,
        s: SessionId,
        l4: L4,
        side: Side,
        tcp_flags: u8,
        now: Millis,
    ) {
        let class = match l4 {
            L4::Tcp => {
                let step = tcp::tcp_transition(self.tables.session(s).tcp, side, tcp_flags);
                self.tables.session_mut(s).tcp = step.state;
                step.timer
            }
            L4::Udp => Some(TimerClass::Udp),
            L4::Icmp => Some(TimerClass::Icmp),
        };
        if let Some(c) = class {
            self.tables.touch(s, c, now, &self.timeouts);
        }
    }

    /// The BIB entry of session `s` (§3.2: a session is a BIB entry plus
    /// the remote).
    #[inline(always)]
    pub(in crate::nat64) fn session_bib(&self, s: SessionId) -> &BibEntry {
        self.tables.bib(self.tables.session(s).bib)
    }

    /// §3.5.1.1: a new BIB entry for (X', x) with a port from the
    /// subscriber's blocks. Exhaustion is RFC 6888 REQ-11.
    fn new_bib(&mut self, buf: &mut PacketBuf, inc: &Incoming6, now: Millis) -> Step<BibId> {
        // Room for the entry's session first, so that a fresh BIB entry
        // never stays without its session (nor takes a port for nothing).
        if self.tables.sessions_len() >= self.tables.capacity() && !self.reclaim(now, Some(&inc.x6))
        {
            return ControlFlow::Break(self.drop(Nat64Drop::TableFull));
        }
        let sub = Subscriber::of(&inc.x6, self.subscriber_len);
        let (t4, t_port) = match self.alloc.allocate(sub, inc.l4, inc.x_port, now) {
            Ok(m) => m,
            Err(e) => {
                // RFC 6888 REQ-11: drop, ICMP destination unreachable, no
                // existing mapping touched. The code is the one RFC 6146
                // §3.5.1.1 / §3.5.2.2 give a NAT64 that cannot make a
                // mapping: 3, address unreachable (as Jool sends).
                // The allocator has queued the (rate-limited) event for
                // the operator.
                let d = match e {
                    AllocError::SubscriberLimit => Nat64Drop::SubscriberLimit,
                    AllocError::PoolExhausted => Nat64Drop::PoolExhausted,
                    AllocError::RateLimited => Nat64Drop::BlockRateLimited,
                    AllocError::AggregateLimit => Nat64Drop::AggregateLimit,
                };
                return ControlFlow::Break(self.refuse6(buf, d, 3));
            }
        };
        match self.tables.bib_insert(BibEntry {
            proto: inc.l4,
            v6: inc.x6,
            v6_port: inc.x_port,
            v4: t4,
            v4_port: t_port,
            is_static: false,
            sessions: 0,
            inbound: 0,
        }) {
            Ok(b) => {
                self.counters.bib_created += 1;
                ControlFlow::Continue(b)
            }
            Err(_) => {
                self.alloc.release(sub, inc.l4, t4, t_port, now);
                ControlFlow::Break(self.drop(Nat64Drop::TableFull))
            }
        }
    }

    /// A new session on `bib`, opened by a packet from `side`, within the
    /// flood limits of the module docs (a refusal from the IPv4 side is a
    /// silent drop; the IPv6 side's subscriber cap was checked before its
    /// BIB entry), reclaiming fairly if the table is full.
    fn new_session(
        &mut self,
        bib: BibId,
        remote: Ipv4Addr,
        rport: u16,
        class: TimerClass,
        side: Side,
        now: Millis,
    ) -> Step<SessionId> {
        let mut bib = bib;
        let e = *self.tables.bib(bib);
        if side == Side::V4 {
            if self.at_session_cap(&e.v6) {
                return ControlFlow::Break(self.drop(Nat64Drop::SubscriberSessionLimit));
            }
            if self.max_inbound_per_mapping != 0
                && u32::from(e.inbound) >= self.max_inbound_per_mapping
            {
                return ControlFlow::Break(self.drop(Nat64Drop::InboundSessionLimit));
            }
        }
        if self.tables.sessions_len() >= self.tables.capacity() {
            // Full: evict a session first. That may have been the last
            // session of `bib` itself, taking a dynamic entry (and its
            // port) with it; then this packet is dropped and the next one
            // creates a fresh mapping.
            let asker = (side == Side::V6).then_some(&e.v6);
            if !self.reclaim(now, asker) {
                return ControlFlow::Break(self.drop(Nat64Drop::TableFull));
            }
            match self.tables.bib_by_v4(e.proto, e.v4, e.v4_port) {
                Some(b) => bib = b,
                None => return ControlFlow::Break(self.drop(Nat64Drop::TableFull)),
            }
        }
        let to = self.timeouts;
        match self
            .tables
            .session_insert(bib, remote, rport, class, now, &to)
        {
            Ok(s) => {
                if side == Side::V4 {
                    self.tables.set_opened_from_v4(s);
                }
                self.counters.sessions_created += 1;
                ControlFlow::Continue(s)
            }
            Err(_) => ControlFlow::Break(self.drop(Nat64Drop::TableFull)),
        }
    }

    /// Whether the subscriber of `v6` holds
    /// `pool4.max_sessions_per_subscriber` sessions already (never with
    /// the cap at 0).
    fn at_session_cap(&self, v6: &Ipv6Addr) -> bool {
        self.max_sessions_per_subscriber != 0
            && self.tables.subscriber_sessions(v6) >= self.max_sessions_per_subscriber
    }

    /// Removes a dynamic BIB entry left without a session (its session
    /// could not be created), releasing its port.
    fn forget_unused_bib(&mut self, bib: BibId, now: Millis) {
        let e = *self.tables.bib(bib);
        if e.is_static || e.sessions != 0 {
            return;
        }
        self.tables.bib_remove(bib);
        let sub = Subscriber::of(&e.v6, self.subscriber_len);
        self.alloc.release(sub, e.proto, e.v4, e.v4_port, now);
    }

    /// Evicts a session for one of `asker` (`None`: opened from the IPv4
    /// side) as `Tables::reclaim` allows, releasing ports. False if none
    /// may go.
    fn reclaim(&mut self, now: Millis, asker: Option<&Ipv6Addr>) -> bool {
        let plen = self.subscriber_len;
        let alloc = &mut self.alloc;
        let done = self.tables.reclaim(now, asker, &mut |e: &BibEntry| {
            alloc.release(Subscriber::of(&e.v6, plen), e.proto, e.v4, e.v4_port, now)
        });
        self.counters.sessions_expired += u64::from(done);
        done
    }

    /// Filtering (§3.5.1): endpoint-independent admits every remote;
    /// address-dependent (RFC 4787 §5) only those the inside host has a
    /// session with.
    fn admitted(&self, b: BibId, y4: Ipv4Addr) -> bool {
        !self.address_dependent || self.tables.bib_has_remote_addr(b, y4)
    }
}
