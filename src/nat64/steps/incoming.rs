//! RFC 6146 §3.4, determining the incoming tuple: (X', x) -> (Y', y) of an
//! IPv6 packet, (Y, y) -> (T, t) of an IPv4 packet; for an ICMP error, the
//! tuple of the packet it quotes, reversed. With RFC 6052 §2.3 (Y' mapped
//! to Y by the prefix) and §3.1 (the well-known prefix carries only global
//! IPv4 addresses), and `translation.deny4` (ranges subscribers may not
//! reach, one rule with §3.1: `Nat64Prefix::reaches`).
//!
//! Fragments: only a first fragment (or a whole packet) comes here; the
//! later ones take their datagram's state (`fragment.rs`).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::ControlFlow;

use super::Step;
use crate::nat64::counters::Nat64Drop;
use crate::nat64::pipeline::Worker;
use crate::nat64::L4;
use crate::xlat::rfc6052::Unreachable;
use crate::xlat::{Flow, PacketBuf};

/// The incoming tuple of an IPv6 packet (§3.4), its destination already
/// mapped to IPv4: (X', x) -> (Y, y). For ICMP the ports are the
/// identifier.
#[derive(Debug, Clone, Copy)]
pub(in crate::nat64) struct Incoming6 {
    pub(in crate::nat64) l4: L4,
    pub(in crate::nat64) x6: Ipv6Addr,
    pub(in crate::nat64) x_port: u16,
    pub(in crate::nat64) y4: Ipv4Addr,
    pub(in crate::nat64) y_port: u16,
    /// For an ICMPv6 error: the IPv4 form of its outer destination.
    pub(in crate::nat64) error_dst: Option<Ipv4Addr>,
    pub(in crate::nat64) tcp_flags: u8,
}

/// The incoming tuple of an IPv4 packet (§3.4): (Y, y) -> (T, t).
#[derive(Debug, Clone, Copy)]
pub(in crate::nat64) struct Incoming4 {
    pub(in crate::nat64) l4: L4,
    pub(in crate::nat64) y4: Ipv4Addr,
    pub(in crate::nat64) y_port: u16,
    pub(in crate::nat64) t4: Ipv4Addr,
    pub(in crate::nat64) t_port: u16,
    /// For an ICMPv4 error: its outer source (a router, or Y itself).
    pub(in crate::nat64) error_src: Option<Ipv4Addr>,
    pub(in crate::nat64) tcp_flags: u8,
}

impl Worker {
    /// §3.4: the incoming tuple (X', x) -> (Y', y), for an ICMPv6 error the
    /// quoted packet's reversed; Y' mapped to Y by the prefix (RFC 6052
    /// §2.3) and checked against §3.1.
    pub(in crate::nat64) fn incoming_6(
        &mut self,
        buf: &mut PacketBuf,
        flow: &Flow<Ipv6Addr>,
    ) -> Step<Incoming6> {
        // §3.8 (last paragraph): a packet whose source is under the prefix
        // came back from our own IPv4 side: a loop.
        if self.is_hairpin_loop(&flow.tuple.src) {
            return ControlFlow::Break(self.drop(Nat64Drop::HairpinLoop));
        }
        let Some(dst4) = self.extract(&flow.tuple.dst) else {
            return ControlFlow::Break(self.drop(Nat64Drop::NotNat64Prefix));
        };
        let inc = match flow.inner {
            // The quoted packet went Y' -> X'; its flow is (X', x) -> (Y', y).
            Some(q) => {
                let Some(y4) = self.extract(&q.src) else {
                    return ControlFlow::Break(self.drop(Nat64Drop::NotNat64Prefix));
                };
                Incoming6 {
                    l4: q.l4,
                    x6: q.dst,
                    x_port: q.dst_port,
                    y4,
                    y_port: q.src_port,
                    error_dst: Some(dst4),
                    tcp_flags: 0,
                }
            }
            None => Incoming6 {
                l4: flow.tuple.l4,
                x6: flow.tuple.src,
                x_port: flow.tuple.src_port,
                y4: dst4,
                y_port: flow.tuple.dst_port,
                error_dst: None,
                tcp_flags: flow.tcp_flags,
            },
        };
        // RFC 6052 §3.1: the well-known prefix MUST NOT carry non-global
        // IPv4 addresses unless the operator allows it; nor may a
        // subscriber reach `translation.deny4`. Refused with an ICMPv6
        // destination unreachable, code 1 (administratively prohibited)
        // and a counter.
        if let Err(why) = self.reaches(dst4) {
            return ControlFlow::Break(self.refuse6(buf, why, 1));
        }
        ControlFlow::Continue(inc)
    }

    /// §3.4: the incoming tuple (Y, y) -> (T, t), for an ICMPv4 error the
    /// quoted packet's reversed. RFC 6052 §3.1 applies to the address that
    /// will appear under the prefix: Y, or the error's sender.
    pub(in crate::nat64) fn incoming_4(&mut self, flow: &Flow<Ipv4Addr>) -> Step<Incoming4> {
        let inc = match flow.inner {
            // The quoted packet went T -> Y; its flow is (Y, y) -> (T, t).
            Some(q) => Incoming4 {
                l4: q.l4,
                y4: q.dst,
                y_port: q.dst_port,
                t4: q.src,
                t_port: q.src_port,
                error_src: Some(flow.tuple.src),
                tcp_flags: 0,
            },
            None => Incoming4 {
                l4: flow.tuple.l4,
                y4: flow.tuple.src,
                y_port: flow.tuple.src_port,
                t4: flow.tuple.dst,
                t_port: flow.tuple.dst_port,
                error_src: None,
                tcp_flags: flow.tcp_flags,
            },
        };
        // RFC 6052 §3.1: a non-global sender cannot be represented under
        // the well-known prefix; dropped with a counter (no ICMP: the
        // refusal is ours, not the destination's). The remote Y is one a
        // subscriber may reach (`translation.deny4` too); an ICMP error's
        // sender (a router, perhaps the outside gateway) need only be
        // representable.
        let shown = inc.error_src.unwrap_or(inc.y4);
        if !self.prefix.permits(shown, self.allow_non_global) {
            return ControlFlow::Break(self.drop(Nat64Drop::NonGlobalIpv4));
        }
        if let Err(why) = self.reaches(inc.y4) {
            return ControlFlow::Break(self.drop(why));
        }
        ControlFlow::Continue(inc)
    }

    /// Whether `v6` lies under the NAT64 prefix.
    #[inline(always)]
    pub(in crate::nat64) fn under_prefix(&self, v6: &Ipv6Addr) -> bool {
        self.prefix.contains(v6)
    }

    /// RFC 6052 §2.3: the IPv4 address embedded in `v6`, `None` off the
    /// prefix (`Nat64Prefix::extract`, the /96 case without a call).
    #[inline(always)]
    pub(in crate::nat64) fn extract(&self, v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        if !self.under_prefix(v6) {
            return None;
        }
        if self.prefix_96 {
            let o = v6.octets();
            return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
        }
        self.prefix.extract(v6)
    }

    /// Whether a subscriber may reach `v4` under the prefix
    /// (`Nat64Prefix::reaches`: RFC 6052 §3.1, then `translation.deny4`),
    /// or the drop reason that says why not.
    #[inline]
    pub(in crate::nat64) fn reaches(&self, v4: Ipv4Addr) -> Result<(), Nat64Drop> {
        self.prefix
            .reaches(v4, self.allow_non_global, &self.deny4)
            .map_err(|why| match why {
                Unreachable::NonGlobal => Nat64Drop::NonGlobalIpv4,
                Unreachable::Denied => Nat64Drop::DeniedIpv4,
            })
    }

    /// [`Worker::reaches`] as a yes or no.
    #[inline]
    pub(in crate::nat64) fn permits(&self, v4: Ipv4Addr) -> bool {
        self.reaches(v4).is_ok()
    }
}
