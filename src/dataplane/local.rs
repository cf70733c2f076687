//! The box's own answers, written in place over the request: ICMP echo
//! replies (RFC 792, RFC 1122 §3.2.2.6, RFC 4443 §4.2), ARP replies
//! (RFC 826) and Neighbor Advertisements (RFC 4861 §7.2.4), plus the
//! Neighbor Solicitation and Advertisement validation of RFC 4861 §7.1.1
//! and §7.1.2.
//!
//! Promises: every function takes arbitrary bytes; a request that is not
//! well formed is reported (`false`, `None`, `0`) and left untouched, never
//! a panic. These functions work on the L3 packet (or the ARP payload);
//! Ethernet addresses are the caller's (`classify`).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::Mac;
use crate::wire::arp::{arp_op, ArpPacket};
use crate::wire::icmpv6::{ndp_option, NDP_LL_OPTION_LEN, NDP_NEIGHBOR_LEN};
use crate::wire::{
    checksum, icmpv4_type, icmpv6_type, ip_proto, Icmpv4Packet, Icmpv6Packet, Ipv4Packet,
    Ipv6Packet, NdpNeighbor,
};

/// Hop limit / TTL of the box's own replies (RFC 1700's default TTL).
pub const REPLY_TTL: u8 = 64;
/// Length of the NA [`neighbor_advert`] writes: IPv6 header, NA, TLLA option.
pub const NA_LEN: usize = crate::wire::ipv6::HEADER_LEN + NDP_NEIGHBOR_LEN + NDP_LL_OPTION_LEN;

/// Whether `a` may be the source of a packet we answer: not unspecified,
/// not multicast, not broadcast.
fn unicast_v4(a: Ipv4Addr) -> bool {
    !(a.is_unspecified() || a.is_multicast() || a.is_broadcast())
}

/// Echo request -> echo reply in place (swap addresses, type, checksum);
/// false if `pkt` is not a well-formed echo request (then leave it untouched).
///
/// Not answered (false): fragments (the kernel reassembles), IP options
/// (RFC 1122 §3.2.2.6 asks to update Record Route / Timestamp options;
/// the kernel does that), a bad header or ICMP checksum, and a source or
/// destination that is not unicast (RFC 1122 §3.2.2.6: an echo to a
/// broadcast or multicast address MAY be ignored; the box ignores it here).
pub fn echo_reply_ipv4(pkt: &mut [u8]) -> bool {
    let Ok(ip) = Ipv4Packet::new_checked(&*pkt) else {
        return false;
    };
    if ip.header_len() != crate::wire::ipv4::HEADER_LEN
        || !ip.verify_checksum()
        || ip.protocol() != ip_proto::ICMP
        || ip.more_frags()
        || ip.frag_offset() != 0
        || !unicast_v4(ip.src_addr())
        || !unicast_v4(ip.dst_addr())
    {
        return false;
    }
    let (src, dst, ttl) = (ip.src_addr(), ip.dst_addr(), ip.ttl());
    let total = usize::from(ip.total_len());
    let Some(icmp_bytes) = pkt.get(crate::wire::ipv4::HEADER_LEN..total) else {
        return false;
    };
    let Ok(icmp) = Icmpv4Packet::new_checked(icmp_bytes) else {
        return false;
    };
    // RFC 792 "Echo or Echo Reply Message": type 8, code 0, and the
    // checksum over the whole ICMP message must hold before we answer.
    if icmp.msg_type() != icmpv4_type::ECHO_REQUEST
        || icmp.msg_code() != 0
        || !icmp.verify_checksum()
    {
        return false;
    }
    let icmp_csum = icmp.checksum();

    let mut ip = Ipv4Packet::new_unchecked(&mut pkt[..]);
    // RFC 792: "the source and destination addresses are simply reversed".
    // Swapping two summed words leaves the header checksum unchanged
    // (one's-complement addition commutes); only the TTL word changes,
    // patched with RFC 1624 eqn. 3.
    ip.set_src_addr(dst);
    ip.set_dst_addr(src);
    let proto = u16::from(ip_proto::ICMP);
    let old = u16::from(ttl) << 8 | proto;
    let new = u16::from(REPLY_TTL) << 8 | proto;
    let csum = ip.checksum();
    ip.set_ttl(REPLY_TTL);
    ip.set_checksum(checksum::update16(csum, old, new));

    // RFC 792: "the type code changed to 0"; identifier, sequence number
    // and data are returned unchanged. The checksum is patched for the
    // one changed word (type/code), RFC 1624 eqn. 3.
    let mut icmp = Icmpv4Packet::new_unchecked(&mut pkt[crate::wire::ipv4::HEADER_LEN..total]);
    icmp.set_msg_type(icmpv4_type::ECHO_REPLY);
    icmp.set_checksum(checksum::update16(
        icmp_csum,
        u16::from(icmpv4_type::ECHO_REQUEST) << 8,
        u16::from(icmpv4_type::ECHO_REPLY) << 8,
    ));
    true
}

/// The ICMPv6 echo request in `pkt` (directly after the fixed header, no
/// extension headers), validated; its (src, dst, icmp length).
fn echo_request_v6(pkt: &[u8]) -> Option<(Ipv6Addr, Ipv6Addr, usize)> {
    let ip = Ipv6Packet::new_checked(pkt).ok()?;
    // Extension headers (even a fragment header) go to the kernel.
    if ip.next_header() != ip_proto::ICMPV6 {
        return None;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    // RFC 4443 §2.2: never answer to an unspecified or multicast source.
    if src.is_unspecified() || src.is_multicast() {
        return None;
    }
    let icmp = Icmpv6Packet::new_checked(ip.payload()).ok()?;
    // RFC 4443 §4.1: type 128, code 0; §2.3: a bad checksum is discarded.
    if icmp.msg_type() != icmpv6_type::ECHO_REQUEST
        || icmp.msg_code() != 0
        || !icmp.verify_checksum(&src, &dst)
    {
        return None;
    }
    Some((src, dst, ip.payload().len()))
}

/// Echo request -> echo reply in place (swap addresses, type, checksum);
/// false if `pkt` is not a well-formed echo request to a unicast address
/// (then leave it untouched). A request to a multicast group needs a
/// source chosen by the caller: [`echo_reply_ipv6_from`].
pub fn echo_reply_ipv6(pkt: &mut [u8]) -> bool {
    let Some((src, dst, icmp_len)) = echo_request_v6(pkt) else {
        return false;
    };
    if dst.is_multicast() {
        return false;
    }
    write_echo_reply_v6(pkt, dst, src, icmp_len);
    true
}

/// Echo request -> echo reply in place from `our` (used when the request
/// went to a multicast group: RFC 4443 §4.2, "the Source Address of the
/// reply MUST be a unicast address belonging to the interface on which the
/// Echo Request message was received"); a unicast request is answered from
/// its destination as [`echo_reply_ipv6`] does. False (untouched) if not a
/// well-formed echo request.
pub fn echo_reply_ipv6_from(pkt: &mut [u8], our: Ipv6Addr) -> bool {
    let Some((src, dst, icmp_len)) = echo_request_v6(pkt) else {
        return false;
    };
    let from = if dst.is_multicast() { our } else { dst };
    write_echo_reply_v6(pkt, from, src, icmp_len);
    true
}

/// Rewrites a validated echo request into the reply from `from` to `to`.
fn write_echo_reply_v6(pkt: &mut [u8], from: Ipv6Addr, to: Ipv6Addr, icmp_len: usize) {
    let hl = crate::wire::ipv6::HEADER_LEN;
    let (old_src, old_dst) = {
        let ip = Ipv6Packet::new_unchecked(&*pkt);
        (ip.src_addr(), ip.dst_addr())
    };
    let mut ip = Ipv6Packet::new_unchecked(&mut *pkt);
    ip.set_src_addr(&from);
    ip.set_dst_addr(&to);
    ip.set_hop_limit(REPLY_TTL);
    let Some(body) = pkt.get_mut(hl..hl + icmp_len) else {
        return;
    };
    let mut icmp = Icmpv6Packet::new_unchecked(body);
    // RFC 4443 §4.2: type 129, identifier, sequence number and data of the
    // request. The checksum covers the pseudo-header (RFC 8200 §8.1): a
    // plain swap keeps its sum, so only the type word is patched (RFC 1624
    // eqn. 3); with a new source the pseudo-header's sum is patched too.
    let old_sum = checksum::sum_ipv6_addr(&old_src)
        + checksum::sum_ipv6_addr(&old_dst)
        + (u32::from(icmpv6_type::ECHO_REQUEST) << 8);
    let new_sum = checksum::sum_ipv6_addr(&from)
        + checksum::sum_ipv6_addr(&to)
        + (u32::from(icmpv6_type::ECHO_REPLY) << 8);
    let csum = icmp.checksum();
    icmp.set_msg_type(icmpv6_type::ECHO_REPLY);
    icmp.set_checksum(checksum::update(csum, old_sum, new_sum));
}

/// ARP request -> ARP reply in place over the 28-byte ARP packet `arp`
/// (RFC 826 "Packet Reception": swap sender and target, put in our
/// hardware address, set the opcode to reply). The caller has decided that
/// the target protocol address is ours. False (untouched) if `arp` is not
/// an Ethernet/IPv4 request.
pub fn arp_reply(arp: &mut [u8], our_mac: Mac) -> bool {
    let Ok(req) = ArpPacket::new_checked(&*arp) else {
        return false;
    };
    if req.operation() != arp_op::REQUEST {
        return false;
    }
    let (sha, spa, tpa) = (req.sender_hw(), req.sender_ip(), req.target_ip());
    let mut p = ArpPacket::new_unchecked(arp);
    // RFC 826: "Swap hardware and protocol fields, putting the local
    // hardware and protocol addresses in the sender fields. Set the
    // ar$op field to ares_op$REPLY."
    p.set_target_hw(sha);
    p.set_target_ip(spa);
    p.set_sender_hw(our_mac);
    p.set_sender_ip(tpa);
    p.set_operation(arp_op::REPLY);
    true
}

/// A Neighbor Solicitation that passed RFC 4861 §7.1.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Solicitation {
    /// IP source (`::` for duplicate address detection).
    pub src: Ipv6Addr,
    /// IP destination (a solicited-node group, or the target for NUD).
    pub dst: Ipv6Addr,
    /// Target address.
    pub target: Ipv6Addr,
    /// Source link-layer address option.
    pub sll: Option<Mac>,
}

/// An ICMPv6 neighbour message directly after the fixed header that
/// passes the checks §7.1.1 and §7.1.2 share: hop limit 255, checksum,
/// code 0, ICMP length >= 24, target not multicast, options well formed
/// (none of length 0). Returns (src, dst, message bytes).
fn nd_common(pkt: &[u8], kind: u8) -> Option<(Ipv6Addr, Ipv6Addr, &[u8])> {
    let ip = Ipv6Packet::new_checked(pkt).ok()?;
    if ip.next_header() != ip_proto::ICMPV6 {
        return None;
    }
    // RFC 4861 §7.1.1/§7.1.2: "The IP Hop Limit field has a value of 255,
    // i.e., the packet could not possibly have been forwarded by a router."
    if ip.hop_limit() != 255 {
        return None;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let hl = crate::wire::ipv6::HEADER_LEN;
    let msg = pkt.get(hl..hl + usize::from(ip.payload_len()))?;
    let icmp = Icmpv6Packet::new_checked(msg).ok()?;
    // "ICMP Checksum is valid", "ICMP Code is 0".
    if icmp.msg_type() != kind || icmp.msg_code() != 0 || !icmp.verify_checksum(&src, &dst) {
        return None;
    }
    // "ICMP length (derived from the IP length) is 24 or more octets" and
    // "All included options have a length that is greater than zero"
    // (NdpNeighbor::new_checked checks both).
    let nd = NdpNeighbor::new_checked(msg).ok()?;
    // "Target Address is not a multicast address."
    if nd.target_addr().is_multicast() {
        return None;
    }
    Some((src, dst, msg))
}

/// Whether `dst` is a solicited-node multicast address (ff02::1:ff00:0/104).
fn is_solicited_node(dst: &Ipv6Addr) -> bool {
    let o = dst.octets();
    o[..13] == [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]
}

/// Validates a Neighbor Solicitation (the whole IPv6 packet), RFC 4861
/// §7.1.1; `None` if it must be silently discarded.
pub fn parse_ns(pkt: &[u8]) -> Option<Solicitation> {
    let (src, dst, msg) = nd_common(pkt, icmpv6_type::NEIGHBOR_SOLICIT)?;
    let nd = NdpNeighbor::new_unchecked(msg);
    let sll = nd.source_ll_addr();
    if src.is_unspecified() {
        // §7.1.1: "If the IP source address is the unspecified address,
        // the IP destination address is a solicited-node multicast
        // address" and "there is no source link-layer address option".
        if !is_solicited_node(&dst) || sll.is_some() {
            return None;
        }
    } else if src.is_multicast() {
        // RFC 4291 §2.7: a multicast address is never a source.
        return None;
    }
    Some(Solicitation {
        src,
        dst,
        target: nd.target_addr(),
        sll,
    })
}

/// A Neighbor Advertisement that passed RFC 4861 §7.1.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advertisement {
    /// IP source.
    pub src: Ipv6Addr,
    /// Target address: whose link-layer address this is.
    pub target: Ipv6Addr,
    /// Target link-layer address option.
    pub tll: Option<Mac>,
    /// R flag.
    pub router: bool,
    /// S flag.
    pub solicited: bool,
    /// O flag.
    pub override_: bool,
}

/// Validates a Neighbor Advertisement (the whole IPv6 packet), RFC 4861
/// §7.1.2; `None` if it must be silently discarded.
pub fn parse_na(pkt: &[u8]) -> Option<Advertisement> {
    let (src, dst, msg) = nd_common(pkt, icmpv6_type::NEIGHBOR_ADVERT)?;
    let nd = NdpNeighbor::new_unchecked(msg);
    // §7.1.2: "If the IP Destination Address is a multicast address the
    // Solicited flag is zero."
    if dst.is_multicast() && nd.solicited_flag() {
        return None;
    }
    if src.is_multicast() || src.is_unspecified() {
        return None;
    }
    Some(Advertisement {
        src,
        target: nd.target_addr(),
        tll: nd.target_ll_addr(),
        router: nd.router_flag(),
        solicited: nd.solicited_flag(),
        override_: nd.override_flag(),
    })
}

/// Writes a whole Neighbor Advertisement (IPv6 header, NA, target
/// link-layer address option; [`NA_LEN`] bytes) at the start of `out`,
/// RFC 4861 §7.2.4, from `target` (our address, also the IP source) to
/// `dst`; returns its length, or 0 if `out` is shorter.
///
/// `solicited` is false only for the answer to a DAD solicitation (sent
/// to all-nodes). R is set: the box forwards packets, it is a router
/// (§7.2.4 "the Router flag is set ... if the node is a router"). O is
/// set: the target is our own unicast address, not an anycast one.
pub fn neighbor_advert(
    out: &mut [u8],
    our_mac: Mac,
    target: Ipv6Addr,
    dst: Ipv6Addr,
    solicited: bool,
) -> usize {
    let Some(out) = out.get_mut(..NA_LEN) else {
        return 0;
    };
    let hl = crate::wire::ipv6::HEADER_LEN;
    let (ip, icmp) = out.split_at_mut(hl);
    let mut ip = Ipv6Packet::new_unchecked(ip);
    ip.set_version(6);
    ip.set_traffic_class(0);
    ip.set_flow_label(0);
    ip.set_payload_len((NA_LEN - hl) as u16);
    ip.set_next_header(ip_proto::ICMPV6);
    // §7.2.4 / §4.4: hop limit 255; source: an address of the interface
    // (the target itself).
    ip.set_hop_limit(255);
    ip.set_src_addr(&target);
    ip.set_dst_addr(&dst);
    icmp.fill(0);
    let mut na = NdpNeighbor::new_unchecked(&mut icmp[..]);
    na.set_msg_type(icmpv6_type::NEIGHBOR_ADVERT);
    na.clear_flags();
    na.set_router_flag(true);
    na.set_solicited_flag(solicited);
    na.set_override_flag(true);
    na.set_target_addr(&target);
    // §7.2.4: "the Target Link-Layer Address option ... MUST be included
    // [when responding to multicast solicitations]"; always included here.
    let _ = na.set_ll_addr_option(ndp_option::TARGET_LL_ADDR, our_mac);
    Icmpv6Packet::new_unchecked(&mut icmp[..]).fill_checksum(&target, &dst);
    NA_LEN
}

#[cfg(test)]
mod tests;
