//! RFC 6146 §3.6, computing the outgoing tuple: the addresses and ports
//! the translated packet carries, as an xlat [`Plan`] (for an ICMP error,
//! the outer header's and the quoted packet's). IPv6 -> IPv4: source
//! (T, t) from the BIB entry, destination (Y, y). IPv4 -> IPv6: source Y'
//! (Y under the prefix, RFC 6052 §2.3) and y, destination (X', x) from the
//! BIB entry. An ICMP query's identifier is the BIB entry's on both sides.
//!
//! Promises: [`outbound_rewrite`] and [`Worker::inbound_rewrite`] are the
//! one definition of a packet's outgoing tuple; the general path's plans
//! and the shortcuts' rewrites (`burst.rs`) are built by them (the
//! established fast path, which takes only TCP and UDP, by their
//! `_tcp_udp` part, without the ICMP case).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::incoming::{Incoming4, Incoming6};
use crate::nat64::pipeline::Worker;
use crate::nat64::L4;
use crate::xlat::{Plan, Rewrite};

/// §3.6 for an IPv6 flow (X', x) -> (Y, y) mapped to (T, t): the IPv4
/// packet goes (T, t) -> (Y, y); for ICMP both identifiers are t.
#[inline(always)]
pub(in crate::nat64) fn outbound_rewrite(
    l4: L4,
    t4: Ipv4Addr,
    t_port: u16,
    y4: Ipv4Addr,
    y_port: u16,
) -> Rewrite<Ipv4Addr> {
    let y_port = if l4 == L4::Icmp { t_port } else { y_port };
    outbound_rewrite_tcp_udp(t4, t_port, y4, y_port)
}

/// [`outbound_rewrite`] of a TCP or UDP flow: (T, t) -> (Y, y).
#[inline(always)]
pub(in crate::nat64) fn outbound_rewrite_tcp_udp(
    t4: Ipv4Addr,
    t_port: u16,
    y4: Ipv4Addr,
    y_port: u16,
) -> Rewrite<Ipv4Addr> {
    Rewrite {
        src: t4,
        dst: y4,
        src_port: t_port,
        dst_port: y_port,
    }
}

impl Worker {
    /// §3.6 for an IPv4 flow (Y, y) -> (T, t) whose BIB entry maps (T, t)
    /// to (X', x): the IPv6 packet goes (Y', y) -> (X', x), Y' the prefix
    /// with Y embedded (RFC 6052 §2.3); for ICMP both identifiers are x.
    #[inline(always)]
    pub(in crate::nat64) fn inbound_rewrite(
        &self,
        l4: L4,
        y4: Ipv4Addr,
        y_port: u16,
        x6: Ipv6Addr,
        x_port: u16,
    ) -> Rewrite<Ipv6Addr> {
        let y_port = if l4 == L4::Icmp { x_port } else { y_port };
        self.inbound_rewrite_tcp_udp(y4, y_port, x6, x_port)
    }

    /// [`Worker::inbound_rewrite`] of a TCP or UDP flow: (Y', y) -> (X', x).
    #[inline(always)]
    pub(in crate::nat64) fn inbound_rewrite_tcp_udp(
        &self,
        y4: Ipv4Addr,
        y_port: u16,
        x6: Ipv6Addr,
        x_port: u16,
    ) -> Rewrite<Ipv6Addr> {
        Rewrite {
            src: self.prefix.embed(y4),
            dst: x6,
            src_port: y_port,
            dst_port: x_port,
        }
    }

    /// §3.6: the IPv4 packet's addresses and ports ([`outbound_rewrite`]).
    /// For an ICMPv6 error: outer source T (the pool address the quoted
    /// flow uses), outer destination its own destination mapped to IPv4;
    /// the quoted packet becomes (Y, y) -> (T, t).
    pub(in crate::nat64) fn outgoing_6(
        &self,
        inc: &Incoming6,
        t4: Ipv4Addr,
        t_port: u16,
    ) -> Plan<Ipv4Addr> {
        let flow = outbound_rewrite(inc.l4, t4, t_port, inc.y4, inc.y_port);
        plan(flow, inc.error_dst.map(|dst| (t4, dst)))
    }

    /// §3.6: the IPv6 packet's addresses and ports
    /// ([`Worker::inbound_rewrite`]). For an ICMPv4 error: outer source the
    /// error's sender embedded, outer destination X'; the quoted packet
    /// becomes (X', x) -> (Y', y).
    pub(in crate::nat64) fn outgoing_4(
        &self,
        inc: &Incoming4,
        x6: Ipv6Addr,
        x_port: u16,
    ) -> Plan<Ipv6Addr> {
        let flow = self.inbound_rewrite(inc.l4, inc.y4, inc.y_port, x6, x_port);
        plan(flow, inc.error_src.map(|r| (self.prefix.embed(r), x6)))
    }
}

/// §3.6's plan for a packet of `flow`: that rewrite, or for an ICMP error
/// (`error`: its outer source and destination, translated) an outer header
/// without ports and the quoted packet rewritten as the reverse of `flow`
/// (it went the other way).
#[inline(always)]
fn plan<A: Copy>(flow: Rewrite<A>, error: Option<(A, A)>) -> Plan<A> {
    match error {
        None => Plan {
            outer: flow,
            inner: None,
        },
        Some((src, dst)) => Plan {
            outer: Rewrite {
                src,
                dst,
                src_port: 0,
                dst_port: 0,
            },
            inner: Some(Rewrite {
                src: flow.dst,
                dst: flow.src,
                src_port: flow.dst_port,
                dst_port: flow.src_port,
            }),
        },
    }
}
