//! Ethernet headers on and off, the solicitations the box sends, and the
//! next hop of a destination.
//!
//! Promises: `encap`/`decap` only move the packet's start inside its
//! buffer (as `rte_pktmbuf_prepend`/`rte_pktmbuf_adj` do) and report a
//! missing headroom or a short packet as `false`; the frame builders write
//! a whole, valid frame or nothing (length 0) when the buffer is too small.
//! ARP requests follow RFC 826, Neighbor Solicitations RFC 4861 §4.3 and
//! §7.2.2 (solicited-node multicast destination, RFC 4291 §2.7.1, and its
//! Ethernet mapping, RFC 2464 §7).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{BoxIdentity, Mac};
use crate::wire::arp::{arp_op, ArpPacket};
use crate::wire::icmpv6::{ndp_option, NDP_LL_OPTION_LEN, NDP_NEIGHBOR_LEN};
use crate::wire::{ethertype, icmpv6_type, ip_proto, Icmpv6Packet, Ipv6Packet, NdpNeighbor};

/// Length of an untagged Ethernet header.
pub const ETHER_HDR: usize = 14;
/// Length of the ARP request frame [`arp_request`] writes.
pub const ARP_FRAME_LEN: usize = ETHER_HDR + crate::wire::arp::PACKET_LEN;
/// Length of the NS frame [`neighbor_solicit`] writes.
pub const NS_FRAME_LEN: usize =
    ETHER_HDR + crate::wire::ipv6::HEADER_LEN + NDP_NEIGHBOR_LEN + NDP_LL_OPTION_LEN;
/// The Ethernet broadcast address.
pub const BROADCAST: Mac = [0xFF; 6];

/// Whether `mac` is a group (multicast or broadcast) address: the I/G bit.
#[inline]
pub fn is_group(mac: &Mac) -> bool {
    mac[0] & 1 != 0
}

/// The solicited-node multicast address of `addr`, RFC 4291 §2.7.1:
/// ff02::1:ff00:0/104 and the low 24 bits of `addr`.
pub fn solicited_node(addr: &Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// The Ethernet address of IPv6 multicast `group`, RFC 2464 §7:
/// 33:33 and the group's low 32 bits.
pub fn multicast_mac(group: &Ipv6Addr) -> Mac {
    let o = group.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// Writes a 14-byte Ethernet header at the start of `out` (which the
/// caller has checked is long enough).
fn write_ether(out: &mut [u8], dst: Mac, src: Mac, ethertype: u16) {
    out[0..6].copy_from_slice(&dst);
    out[6..12].copy_from_slice(&src);
    out[12..14].copy_from_slice(&ethertype.to_be_bytes());
}

/// Prepend a 14-byte Ethernet header (dst, src, ethertype); false if no headroom.
pub fn encap(pkt: &mut crate::xlat::buf::PacketBuf, dst: Mac, src: Mac, ethertype: u16) -> bool {
    if !pkt.prepend(ETHER_HDR) {
        return false;
    }
    // Built as a fixed-size array and stored whole: no per-field bounds
    // checks (this runs for every forwarded packet).
    let mut h = [0u8; ETHER_HDR];
    h[..6].copy_from_slice(&dst);
    h[6..12].copy_from_slice(&src);
    h[12..].copy_from_slice(&ethertype.to_be_bytes());
    match pkt.data_mut().first_chunk_mut::<ETHER_HDR>() {
        Some(out) => {
            *out = h;
            true
        }
        // Never: the packet just grew by ETHER_HDR bytes. Left as it was.
        None => {
            let _ = pkt.adj(ETHER_HDR);
            false
        }
    }
}

/// Strip `l3` bytes of L2 header; false if shorter.
pub fn decap(pkt: &mut crate::xlat::buf::PacketBuf, l3: usize) -> bool {
    pkt.adj(l3)
}

/// A whole ARP request frame (broadcast) into `buf`; returns its length (42),
/// or 0 if `buf` is shorter.
pub fn arp_request(buf: &mut [u8], src_mac: Mac, src_ip: Ipv4Addr, target: Ipv4Addr) -> usize {
    let Some(out) = buf.get_mut(..ARP_FRAME_LEN) else {
        return 0;
    };
    // RFC 826 "Packet Generation": broadcast, ar$op = request, our
    // hardware and protocol addresses as sender, the target's protocol
    // address; the target hardware address is unknown (zero, RFC 5227 §1.1
    // notes its value is ignored).
    write_ether(out, BROADCAST, src_mac, ethertype::ARP);
    let mut arp = ArpPacket::new_unchecked(&mut out[ETHER_HDR..]);
    arp.init_ethernet_ipv4();
    arp.set_operation(arp_op::REQUEST);
    arp.set_sender_hw(src_mac);
    arp.set_sender_ip(src_ip);
    arp.set_target_hw([0; 6]);
    arp.set_target_ip(target);
    ARP_FRAME_LEN
}

/// A whole NS frame (to the solicited-node multicast of `target`, with SLLA
/// option, hop limit 255, checksum) into `buf`; returns its length (86), or
/// 0 if `buf` is shorter.
pub fn neighbor_solicit(buf: &mut [u8], src_mac: Mac, src_ip: Ipv6Addr, target: Ipv6Addr) -> usize {
    let Some(out) = buf.get_mut(..NS_FRAME_LEN) else {
        return 0;
    };
    // RFC 4861 §7.2.2: address resolution multicasts the NS to the
    // target's solicited-node address; RFC 2464 §7 maps it to 33:33:ff:xx:xx:xx.
    let group = solicited_node(&target);
    write_ether(out, multicast_mac(&group), src_mac, ethertype::IPV6);
    let icmp_len = NDP_NEIGHBOR_LEN + NDP_LL_OPTION_LEN;
    let (ip, icmp) = out[ETHER_HDR..].split_at_mut(crate::wire::ipv6::HEADER_LEN);
    let mut ip = Ipv6Packet::new_unchecked(ip);
    ip.set_version(6);
    ip.set_traffic_class(0);
    ip.set_flow_label(0);
    ip.set_payload_len(icmp_len as u16);
    ip.set_next_header(ip_proto::ICMPV6);
    // RFC 4861 §4.3: hop limit 255, so receivers know it was not forwarded.
    ip.set_hop_limit(255);
    ip.set_src_addr(&src_ip);
    ip.set_dst_addr(&group);
    icmp.fill(0);
    let mut ns = NdpNeighbor::new_unchecked(&mut icmp[..]);
    ns.set_msg_type(icmpv6_type::NEIGHBOR_SOLICIT);
    ns.clear_flags();
    ns.set_target_addr(&target);
    // RFC 4861 §4.3: the source link-layer address option MUST be included
    // in multicast solicitations (the source is not ::).
    let _ = ns.set_ll_addr_option(ndp_option::SOURCE_LL_ADDR, src_mac);
    Icmpv6Packet::new_unchecked(&mut icmp[..]).fill_checksum(&src_ip, &group);
    NS_FRAME_LEN
}

/// Whether `a` and `b` share their first `len` bits.
fn same_prefix_v4(a: Ipv4Addr, b: Ipv4Addr, len: u8) -> bool {
    // The differing bits, shifted down past the prefix: none may be left
    // (a shift, not a mask built per call; it runs for every packet).
    let len = u32::from(len.min(32));
    len == 0 || (u32::from(a) ^ u32::from(b)) >> (32 - len) == 0
}

/// Whether `a` and `b` share their first `len` bits.
fn same_prefix_v6(a: &Ipv6Addr, b: &Ipv6Addr, len: u8) -> bool {
    // As `same_prefix_v4`, a 64-bit half at a time (a u128 shift by a
    // variable amount costs several instructions more).
    let x = u128::from(*a) ^ u128::from(*b);
    let (hi, lo) = ((x >> 64) as u64, x as u64);
    let len = u32::from(len.min(128));
    if len <= 64 {
        len == 0 || hi >> (64 - len) == 0
    } else {
        hi == 0 && lo >> (128 - len) == 0
    }
}

/// Next hop: the destination itself when under the link's prefix, else the gateway.
pub fn next_hop_v4(own: &BoxIdentity, dst: Ipv4Addr) -> Ipv4Addr {
    if same_prefix_v4(dst, own.outside, own.outside_prefix_len) {
        dst
    } else {
        own.outside_gateway
    }
}

/// Next hop: the destination itself when under the link's prefix (or
/// link-local, RFC 4291 §2.5.6), else the gateway.
pub fn next_hop_v6(own: &BoxIdentity, dst: Ipv6Addr) -> Ipv6Addr {
    let link_local = dst.segments()[0] & 0xffc0 == 0xfe80;
    if link_local || same_prefix_v6(&dst, &own.inside, own.inside_prefix_len) {
        dst
    } else {
        own.inside_gateway
    }
}

/// The modified EUI-64 link-local address of `mac` (RFC 4291 §2.5.6 and
/// appendix A: fe80::/64, the MAC with ff:fe in its middle and the
/// universal/local bit inverted).
pub fn link_local(mac: Mac) -> Ipv6Addr {
    Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        u16::from_be_bytes([mac[0] ^ 0x02, mac[1]]),
        u16::from_be_bytes([mac[2], 0xff]),
        u16::from_be_bytes([0xfe, mac[3]]),
        u16::from_be_bytes([mac[4], mac[5]]),
    )
}

/// Where an L3 packet goes next, by its IP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextHop {
    /// Out of the outside port, to this IPv4 neighbour.
    V4(Ipv4Addr),
    /// Out of the inside port, to this IPv6 neighbour.
    V6(Ipv6Addr),
}

/// The next hop of the L3 packet `l3` (`next_hop_v4` / `next_hop_v6` of
/// its destination); `None` when it is too short for its IP header or
/// neither IPv4 nor IPv6.
pub fn next_hop(own: &BoxIdentity, l3: &[u8]) -> Option<NextHop> {
    match l3.first().map(|b| b >> 4) {
        Some(4) if l3.len() >= 20 => {
            let dst = Ipv4Addr::new(l3[16], l3[17], l3[18], l3[19]);
            Some(NextHop::V4(next_hop_v4(own, dst)))
        }
        Some(6) if l3.len() >= 40 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&l3[24..40]);
            Some(NextHop::V6(next_hop_v6(own, Ipv6Addr::from(a))))
        }
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests;
