//! Sorting of received frames: NAT64 traffic, the box's own ARP / ND /
//! echo (answered in place), traffic for the box itself (the exception
//! path to its kernel), and drops.
//!
//! Promises: [`inside_frame`] and [`outside_frame`] accept any bytes and
//! never panic; every frame gets one verdict, and every drop one named
//! [`L2Drop`] reason. A frame is only rewritten when the verdict is
//! `Reply`, or trimmed to its IP length (Ethernet padding removed) when it
//! is `Nat64`. Implements the receive side of RFC 826 (ARP), RFC 4861
//! §7.1 and §7.2.3–§7.2.5 (NS/NA), RFC 792 / RFC 4443 §4.2 (echo) and the
//! link-layer rule of RFC 1122 §3.3.6 / RFC 1812 §5.3.4 (a unicast IP
//! packet in a link-layer broadcast or multicast frame is discarded).
//!
//! The box is configured for no VLAN: a frame tagged with a VLAN ID is
//! dropped (`UnknownVlan`); a priority tag (VID 0, IEEE 802.1Q §9.6) is
//! accepted as untagged and kept on a reply.
//!
//! Deliberate limits: one 802.1Q tag at most (QinQ is `UnknownEthertype`);
//! NS/NA/echo carrying IPv6 extension headers go to the kernel instead of
//! being answered here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::l2::{is_group, multicast_mac};
use super::local;
use super::{BoxIdentity, Mac};
use crate::wire::arp::arp_op;
use crate::wire::{
    ethertype, icmpv6_type, ip_proto, ArpPacket, EthernetFrame, Ipv4Packet, Ipv6Packet,
};
use crate::xlat::buf::PacketBuf;

/// What to do with a received frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L2Action {
    /// NAT64 traffic: the L3 packet starts `l3` bytes into the frame (after
    /// Ethernet and an optional 802.1Q tag); strip them and run the pipeline
    /// (inside: process_6to4; outside: process_4to6). The frame has been
    /// trimmed to the IP packet's length (no Ethernet padding).
    Nat64 {
        /// Length of the L2 header(s) before the IP packet.
        l3: usize,
    },
    /// The frame was rewritten in place (ARP reply, NA, echo reply): send it
    /// back out of the port it came in on.
    Reply,
    /// For the box itself, served by its kernel: send the frame, unchanged,
    /// down this side's exception path (its TAP interface).
    Exception,
    /// Count and free.
    Drop(L2Drop),
}

/// The verdict on one frame, and a neighbour it taught us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L2Verdict {
    /// What to do with the frame.
    pub action: L2Action,
    /// An (IP, MAC) pair learned from ARP or ND, to broadcast to every
    /// worker's neighbour cache.
    pub learn: Option<(IpAddr, Mac)>,
}

impl L2Verdict {
    fn of(action: L2Action) -> Self {
        L2Verdict {
            action,
            learn: None,
        }
    }

    fn drop(reason: L2Drop) -> Self {
        Self::of(L2Action::Drop(reason))
    }
}

/// Why classification dropped a frame; one counter each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum L2Drop {
    /// Shorter than its Ethernet header.
    Runt,
    /// Unicast to another MAC.
    NotForUs,
    /// The source MAC is a group address (IEEE 802: never a source).
    BadSrcMac,
    /// Neither IPv4, IPv6 nor ARP (or stacked VLAN tags).
    UnknownEthertype,
    /// Tagged with a VLAN ID: the box is configured for none.
    UnknownVlan,
    /// IPv4 or ARP on the inside, IPv6 on the outside.
    WrongFamily,
    /// ARP that is not a valid Ethernet/IPv4 request or reply.
    BadArp,
    /// ARP about addresses that are not ours.
    ArpNotForUs,
    /// ARP from a host claiming one of our addresses.
    ArpConflict,
    /// IPv4 header invalid or truncated.
    BadIpv4,
    /// IPv6 header invalid or truncated, or a multicast source (RFC 4291
    /// §2.7).
    BadIpv6,
    /// NS or NA failing RFC 4861 §7.1.1 / §7.1.2 validation.
    BadNd,
    /// NS for a target that is not ours.
    NdNotForUs,
    /// A unicast IP packet in a broadcast or multicast frame (RFC 1122 §3.3.6).
    GroupFrameUnicastIp,
    /// IP to an address that is neither ours, a pool address, under the
    /// NAT64 prefix, broadcast nor multicast.
    NotOurAddress,
    /// The reply does not fit the buffer's tailroom.
    NoRoom,
}

impl L2Drop {
    /// Every reason, in `index` order.
    pub const ALL: &'static [L2Drop] = &[
        L2Drop::Runt,
        L2Drop::NotForUs,
        L2Drop::BadSrcMac,
        L2Drop::UnknownEthertype,
        L2Drop::UnknownVlan,
        L2Drop::WrongFamily,
        L2Drop::BadArp,
        L2Drop::ArpNotForUs,
        L2Drop::ArpConflict,
        L2Drop::BadIpv4,
        L2Drop::BadIpv6,
        L2Drop::BadNd,
        L2Drop::NdNotForUs,
        L2Drop::GroupFrameUnicastIp,
        L2Drop::NotOurAddress,
        L2Drop::NoRoom,
    ];

    /// Number of reasons (length of a counter array).
    pub const COUNT: usize = 16;

    /// Label for metrics (snake case; the series carries `layer="l2"`, and
    /// no name collides with a pipeline drop reason).
    pub fn name(self) -> &'static str {
        match self {
            L2Drop::Runt => "runt",
            L2Drop::NotForUs => "not_for_us",
            L2Drop::BadSrcMac => "bad_src_mac",
            L2Drop::UnknownEthertype => "unknown_ethertype",
            L2Drop::UnknownVlan => "unknown_vlan",
            L2Drop::WrongFamily => "wrong_family",
            L2Drop::BadArp => "bad_arp",
            L2Drop::ArpNotForUs => "arp_not_for_us",
            L2Drop::ArpConflict => "arp_conflict",
            L2Drop::BadIpv4 => "bad_ipv4",
            L2Drop::BadIpv6 => "bad_ipv6",
            L2Drop::BadNd => "bad_nd",
            L2Drop::NdNotForUs => "nd_not_for_us",
            L2Drop::GroupFrameUnicastIp => "group_frame_unicast_ip",
            L2Drop::NotOurAddress => "not_our_address",
            L2Drop::NoRoom => "no_room",
        }
    }

    /// Position in [`L2Drop::ALL`] (a counter array index).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Which local responder wrote a `Reply` frame (for the
/// `nat64_local_replies_total{kind}` counters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LocalReply {
    /// ARP reply.
    Arp,
    /// Neighbor Advertisement.
    Nd,
    /// ICMPv4 echo reply.
    Echo4,
    /// ICMPv6 echo reply.
    Echo6,
}

impl LocalReply {
    /// Every kind, in `index` order.
    pub const ALL: &'static [LocalReply] = &[
        LocalReply::Arp,
        LocalReply::Nd,
        LocalReply::Echo4,
        LocalReply::Echo6,
    ];

    /// Label for metrics: `arp`, `nd`, `echo4`, `echo6`.
    pub fn name(self) -> &'static str {
        match self {
            LocalReply::Arp => "arp",
            LocalReply::Nd => "nd",
            LocalReply::Echo4 => "echo4",
            LocalReply::Echo6 => "echo6",
        }
    }

    /// Position in [`LocalReply::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What kind of reply the frame `frame` is (an Ethernet frame that
/// classification answered with `Reply`); `None` for anything else. A
/// few byte reads, no validation beyond bounds.
pub fn reply_kind(frame: &[u8]) -> Option<LocalReply> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let l3 = eth.payload();
    match eth.ethertype() {
        ethertype::ARP => Some(LocalReply::Arp),
        ethertype::IPV4 => {
            let ip = Ipv4Packet::new_checked(l3).ok()?;
            let is_echo_reply = ip.protocol() == ip_proto::ICMP
                && ip.payload().first() == Some(&crate::wire::icmpv4_type::ECHO_REPLY);
            is_echo_reply.then_some(LocalReply::Echo4)
        }
        ethertype::IPV6 => {
            let ip = Ipv6Packet::new_checked(l3).ok()?;
            if ip.next_header() != ip_proto::ICMPV6 {
                return None;
            }
            match ip.payload().first().copied()? {
                icmpv6_type::NEIGHBOR_ADVERT => Some(LocalReply::Nd),
                icmpv6_type::ECHO_REPLY => Some(LocalReply::Echo6),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The Ethernet facts classification needs.
struct Ether {
    /// Offset of the L3 packet.
    l3: usize,
    /// Payload EtherType.
    ethertype: u16,
    /// Sent to a group (broadcast or multicast) MAC.
    group: bool,
    /// Source MAC.
    src: Mac,
}

/// Checks the Ethernet header: to `our_mac` or a group, from a unicast MAC.
fn ether(frame: &[u8], our_mac: Mac) -> Result<Ether, L2Drop> {
    let eth = EthernetFrame::new_checked(frame).map_err(|_| L2Drop::Runt)?;
    let dst = eth.dst_addr();
    let group = is_group(&dst);
    if !group && dst != our_mac {
        return Err(L2Drop::NotForUs);
    }
    let src = eth.src_addr();
    if is_group(&src) {
        return Err(L2Drop::BadSrcMac);
    }
    // IEEE 802.1Q §9.6: the low 12 bits of the tag are the VLAN ID, 0 a
    // priority tag (no VLAN).
    if eth.vlan().is_some_and(|tci| tci & 0x0fff != 0) {
        return Err(L2Drop::UnknownVlan);
    }
    Ok(Ether {
        l3: eth.header_len(),
        ethertype: eth.ethertype(),
        group,
        src,
    })
}

/// Rewrites the Ethernet addresses of a reply (the tag, if any, stays).
fn set_macs(frame: &mut [u8], dst: Mac, src: Mac) {
    if let Some(d) = frame.get_mut(0..6) {
        d.copy_from_slice(&dst);
    }
    if let Some(s) = frame.get_mut(6..12) {
        s.copy_from_slice(&src);
    }
}

/// Length of an untagged Ethernet II header.
const ETHER_LEN: usize = 14;

/// Whether an untagged frame of `ethertype` is sent to `mac` (unicast)
/// from a unicast source: the frames the shortcuts below take.
#[inline(always)]
fn untagged_unicast(d: &[u8], mac: Mac, ethertype: u16) -> bool {
    d.len() >= ETHER_LEN && d[0..6] == mac && d[12..14] == ethertype.to_be_bytes() && d[6] & 1 == 0
}

/// The common inside frame, decided without the general walk: untagged
/// IPv6 to our MAC from a unicast source, for a destination under the
/// NAT64 prefix. Its IP length, or `None` for anything else (which the
/// general path then sorts). The general path gives the same verdict for
/// every frame this accepts (a proptest checks it).
#[inline]
fn nat64_shortcut_inside(d: &[u8], own: &BoxIdentity) -> Option<usize> {
    if !untagged_unicast(d, own.inside_mac, ethertype::IPV6) {
        return None;
    }
    let ip = Ipv6Packet::new_checked(d.get(ETHER_LEN..)?).ok()?;
    // A multicast source is the general path's (dropped there).
    (own.prefix.contains(&ip.dst_addr()) && !ip.src_addr().is_multicast())
        .then(|| crate::wire::ipv6::HEADER_LEN + usize::from(ip.payload_len()))
}

/// The common outside frame: untagged IPv4 to our MAC from a unicast
/// source, for a pool address (as `nat64_shortcut_inside`).
#[inline]
fn nat64_shortcut_outside(d: &[u8], own: &BoxIdentity) -> Option<usize> {
    if !untagged_unicast(d, own.outside_mac, ethertype::IPV4) {
        return None;
    }
    let ip = Ipv4Packet::new_checked(d.get(ETHER_LEN..)?).ok()?;
    own.pool
        .contains(ip.dst_addr())
        .then(|| usize::from(ip.total_len()))
}

/// Trims Ethernet padding: the frame ends with the IP packet.
fn nat64(frame: &mut PacketBuf, l3: usize, ip_len: usize) -> L2Verdict {
    frame.truncate(l3 + ip_len);
    L2Verdict::of(L2Action::Nat64 { l3 })
}

/// A frame from the inside port. May rewrite `frame` in place and change
/// its length (a NA answering a DAD NS is longer), hence PacketBuf.
pub fn inside_frame(frame: &mut PacketBuf, own: &BoxIdentity) -> L2Verdict {
    match nat64_shortcut_inside(frame.data(), own) {
        Some(ip_len) => nat64(frame, ETHER_LEN, ip_len),
        None => inside_general(frame, own),
    }
}

/// `inside_frame` for every frame, the common one included.
/// Kept out of line: the shortcut takes the common frame, and inlined
/// this made the burst loop slower (callgrind).
#[inline(never)]
fn inside_general(frame: &mut PacketBuf, own: &BoxIdentity) -> L2Verdict {
    let eth = match ether(frame.data(), own.inside_mac) {
        Ok(e) => e,
        Err(reason) => return L2Verdict::drop(reason),
    };
    match eth.ethertype {
        ethertype::IPV6 => inside_ipv6(frame, &eth, own),
        ethertype::IPV4 | ethertype::ARP => L2Verdict::drop(L2Drop::WrongFamily),
        _ => L2Verdict::drop(L2Drop::UnknownEthertype),
    }
}

/// Whether `dst` is a multicast group the box's inside interface is in:
/// all-nodes and all-routers (RFC 4291 §2.7.1; the box is a router) and
/// the solicited-node groups of its addresses.
fn our_group_v6(dst: &Ipv6Addr, own: &BoxIdentity) -> bool {
    const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
    *dst == ALL_NODES
        || *dst == ALL_ROUTERS
        || *dst == super::l2::solicited_node(&own.inside)
        || *dst == super::l2::solicited_node(&own.inside_link_local)
        || own
            .inside_extra
            .iter()
            .any(|a| *dst == super::l2::solicited_node(a))
}

/// Whether `a` is one of the box's inside addresses: `inside.address`, its
/// link-local address, or an extra one (`dns64.listen` on the link). Only
/// the general path asks (never the NAT64 shortcut).
fn inside_own(a: &Ipv6Addr, own: &BoxIdentity) -> bool {
    *a == own.inside || *a == own.inside_link_local || own.inside_extra.contains(a)
}

fn inside_ipv6(frame: &mut PacketBuf, eth: &Ether, own: &BoxIdentity) -> L2Verdict {
    let l3 = eth.l3;
    let (dst, src, next_header, ip_len) = {
        let Some(data) = frame.data().get(l3..) else {
            return L2Verdict::drop(L2Drop::Runt);
        };
        let Ok(ip) = Ipv6Packet::new_checked(data) else {
            return L2Verdict::drop(L2Drop::BadIpv6);
        };
        (
            ip.dst_addr(),
            ip.src_addr(),
            ip.next_header(),
            crate::wire::ipv6::HEADER_LEN + usize::from(ip.payload_len()),
        )
    };
    // RFC 4291 §2.7: a multicast address is never a source; such a header
    // is invalid (translated, it would take state and a pool port).
    if src.is_multicast() {
        return L2Verdict::drop(L2Drop::BadIpv6);
    }
    // RFC 1122 §3.3.6 (and RFC 4861 §7 for ND): a unicast destination in a
    // frame sent to a link-layer group address is discarded.
    if eth.group && !dst.is_multicast() {
        return L2Verdict::drop(L2Drop::GroupFrameUnicastIp);
    }
    if own.prefix.contains(&dst) {
        return nat64(frame, l3, ip_len);
    }
    let ours = inside_own(&dst, own);
    if !ours && !dst.is_multicast() {
        return L2Verdict::drop(L2Drop::NotOurAddress);
    }
    if next_header != ip_proto::ICMPV6 {
        return L2Verdict::of(L2Action::Exception);
    }
    let kind = frame
        .data()
        .get(l3 + crate::wire::ipv6::HEADER_LEN)
        .copied()
        .unwrap_or(0);
    match kind {
        icmpv6_type::NEIGHBOR_SOLICIT => neighbor_solicit(frame, eth, own),
        icmpv6_type::NEIGHBOR_ADVERT => neighbor_advert(frame, l3, own),
        icmpv6_type::ECHO_REQUEST if ours || our_group_v6(&dst, own) => {
            // RFC 4443 §4.2: a request to a multicast group is answered
            // from a unicast address of the interface: the link-local one
            // for a link-local sender (so the reply stays on the link),
            // else the global one.
            let from = if src.segments()[0] & 0xffc0 == 0xfe80 {
                own.inside_link_local
            } else {
                own.inside
            };
            let Some(pkt) = frame.data_mut().get_mut(l3..) else {
                return L2Verdict::drop(L2Drop::Runt);
            };
            if local::echo_reply_ipv6_from(pkt, from) {
                set_macs(frame.data_mut(), eth.src, own.inside_mac);
                L2Verdict::of(L2Action::Reply)
            } else {
                // Not a well-formed request: the kernel decides.
                L2Verdict::of(L2Action::Exception)
            }
        }
        _ => L2Verdict::of(L2Action::Exception),
    }
}

/// RFC 4861 §7.2.3: a valid NS for one of our addresses is answered with a
/// NA (§7.2.4) written over it, and its sender learned.
fn neighbor_solicit(frame: &mut PacketBuf, eth: &Ether, own: &BoxIdentity) -> L2Verdict {
    let l3 = eth.l3;
    let Some(ns) = frame.data().get(l3..).and_then(local::parse_ns) else {
        // §7.1.1: "Receivers MUST silently discard any received Neighbor
        // Solicitation messages that do not satisfy all of the following
        // validity checks" (counted here).
        return L2Verdict::drop(L2Drop::BadNd);
    };
    // §7.2.3: "If the Target Address is not a valid 'unicast' or anycast
    // address assigned to the receiving interface ... the solicitation is
    // silently discarded."
    if !inside_own(&ns.target, own) {
        return L2Verdict::drop(L2Drop::NdNotForUs);
    }
    let dad = ns.src.is_unspecified();
    let (dst_ip, dst_mac, learn) = if dad {
        // §7.2.4: "If the source of the solicitation is the unspecified
        // address, the node MUST set the Solicited flag to zero and
        // multicast the advertisement to the all-nodes address."
        let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
        (all_nodes, multicast_mac(&all_nodes), None)
    } else {
        // §7.2.3: with a source link-layer address option the sender's
        // entry is created or updated; §7.2.4: the NA is unicast to the
        // solicitation's source, at that link-layer address (or, without
        // the option, at the frame's source MAC).
        let mac = ns.sll.unwrap_or(eth.src);
        (ns.src, mac, ns.sll.map(|m| (IpAddr::V6(ns.src), m)))
    };
    let want = l3 + local::NA_LEN;
    let have = frame.len();
    if want > have {
        if !frame.append(want - have) {
            return L2Verdict::drop(L2Drop::NoRoom);
        }
    } else {
        frame.truncate(want);
    }
    let Some(out) = frame.data_mut().get_mut(l3..) else {
        return L2Verdict::drop(L2Drop::NoRoom);
    };
    if local::neighbor_advert(out, own.inside_mac, ns.target, dst_ip, !dad) == 0 {
        return L2Verdict::drop(L2Drop::NoRoom);
    }
    set_macs(frame.data_mut(), dst_mac, own.inside_mac);
    L2Verdict {
        action: L2Action::Reply,
        learn,
    }
}

/// RFC 4861 §7.2.5: a valid NA goes to the kernel (whose own resolution
/// may wait for it) and its target link-layer address is learned.
fn neighbor_advert(frame: &PacketBuf, l3: usize, own: &BoxIdentity) -> L2Verdict {
    let Some(na) = frame.data().get(l3..).and_then(local::parse_na) else {
        // §7.1.2: invalid advertisements are silently discarded (counted).
        return L2Verdict::drop(L2Drop::BadNd);
    };
    // §7.2.5: without a target link-layer address option there is nothing
    // to learn. An advertisement for one of our own addresses (a duplicate,
    // RFC 4862 §5.4.4) is the kernel's business, never a cache entry.
    let ours = inside_own(&na.target, own);
    let learn = match na.tll {
        Some(mac) if !ours && !is_group(&mac) => Some((IpAddr::V6(na.target), mac)),
        _ => None,
    };
    L2Verdict {
        action: L2Action::Exception,
        learn,
    }
}

/// A frame from the outside port.
pub fn outside_frame(frame: &mut PacketBuf, own: &BoxIdentity) -> L2Verdict {
    match nat64_shortcut_outside(frame.data(), own) {
        Some(ip_len) => nat64(frame, ETHER_LEN, ip_len),
        None => outside_general(frame, own),
    }
}

/// `outside_frame` for every frame, the common one included.
/// Kept out of line: the shortcut takes the common frame, and inlined
/// this made the burst loop slower (callgrind).
#[inline(never)]
fn outside_general(frame: &mut PacketBuf, own: &BoxIdentity) -> L2Verdict {
    let eth = match ether(frame.data(), own.outside_mac) {
        Ok(e) => e,
        Err(reason) => return L2Verdict::drop(reason),
    };
    match eth.ethertype {
        ethertype::ARP => outside_arp(frame, &eth, own),
        ethertype::IPV4 => outside_ipv4(frame, &eth, own),
        ethertype::IPV6 => L2Verdict::drop(L2Drop::WrongFamily),
        _ => L2Verdict::drop(L2Drop::UnknownEthertype),
    }
}

/// Whether `a` is one of the box's outside addresses (its own or a pool
/// address).
fn ours_v4(a: Ipv4Addr, own: &BoxIdentity) -> bool {
    a == own.outside || own.pool.contains(a)
}

fn outside_arp(frame: &mut PacketBuf, eth: &Ether, own: &BoxIdentity) -> L2Verdict {
    let l3 = eth.l3;
    let Some(Ok(arp)) = frame.data().get(l3..).map(ArpPacket::new_checked) else {
        return L2Verdict::drop(L2Drop::BadArp);
    };
    let (op, sha, spa, tpa) = (
        arp.operation(),
        arp.sender_hw(),
        arp.sender_ip(),
        arp.target_ip(),
    );
    // RFC 1812 §3.3.2: ARP binding an IP address to a broadcast or
    // multicast link-layer address is discarded.
    if is_group(&sha) || sha == [0; 6] {
        return L2Verdict::drop(L2Drop::BadArp);
    }
    // Someone else claims one of our addresses (RFC 5227 §2.4): never
    // learned, never answered; the counter shows the conflict.
    if ours_v4(spa, own) {
        return L2Verdict::drop(L2Drop::ArpConflict);
    }
    // An RFC 5227 probe has sender 0.0.0.0: answered, never learned.
    let learnable =
        !(spa.is_unspecified() || spa.is_broadcast() || spa.is_multicast() || spa.is_loopback());
    let learn = learnable.then_some((IpAddr::V4(spa), sha));
    match op {
        arp_op::REQUEST if ours_v4(tpa, own) => {
            // RFC 826 "Packet Reception": we are the target, so the
            // sender's pair is merged into (or added to) the table
            // ("?Am I the target protocol address? Yes: If Merge_flag is
            // false, add the triplet"), then the reply goes back to the
            // sender's hardware address.
            let Some(pkt) = frame.data_mut().get_mut(l3..) else {
                return L2Verdict::drop(L2Drop::BadArp);
            };
            if !local::arp_reply(pkt, own.outside_mac) {
                return L2Verdict::drop(L2Drop::BadArp);
            }
            set_macs(frame.data_mut(), sha, own.outside_mac);
            L2Verdict {
                action: L2Action::Reply,
                learn,
            }
        }
        // A reply to us (to the dataplane's request or the kernel's), or a
        // gratuitous announcement (RFC 5227 §3, sender = target): the kernel
        // sees it too; RFC 826's merge updates a pair we already hold (the
        // cache's `learn` adds a new one only into a free slot).
        arp_op::REPLY if ours_v4(tpa, own) || spa == tpa => L2Verdict {
            action: L2Action::Exception,
            learn,
        },
        arp_op::REQUEST if spa == tpa => L2Verdict {
            action: L2Action::Exception,
            learn,
        },
        arp_op::REQUEST | arp_op::REPLY => L2Verdict::drop(L2Drop::ArpNotForUs),
        _ => L2Verdict::drop(L2Drop::BadArp),
    }
}

/// Whether `dst` is the directed broadcast of the outside subnet.
fn directed_broadcast(dst: Ipv4Addr, own: &BoxIdentity) -> bool {
    let len = u32::from(own.outside_prefix_len.min(32));
    if len >= 31 {
        return false; // RFC 3021: /31 (and /32) have no broadcast address
    }
    let host = u32::MAX >> len;
    u32::from(dst) == (u32::from(own.outside) | host)
}

fn outside_ipv4(frame: &mut PacketBuf, eth: &Ether, own: &BoxIdentity) -> L2Verdict {
    let l3 = eth.l3;
    let (dst, ip_len) = {
        let Some(data) = frame.data().get(l3..) else {
            return L2Verdict::drop(L2Drop::Runt);
        };
        let Ok(ip) = Ipv4Packet::new_checked(data) else {
            return L2Verdict::drop(L2Drop::BadIpv4);
        };
        (ip.dst_addr(), usize::from(ip.total_len()))
    };
    let group_ip = dst.is_broadcast() || dst.is_multicast() || directed_broadcast(dst, own);
    // RFC 1122 §3.3.6: a unicast datagram in a link-layer broadcast frame
    // is discarded.
    if eth.group && !group_ip {
        return L2Verdict::drop(L2Drop::GroupFrameUnicastIp);
    }
    // A pool address is the pipeline's, even when it is also the outside
    // address (the pipeline answers `Local` when no BIB entry claims it).
    if own.pool.contains(dst) {
        return nat64(frame, l3, ip_len);
    }
    if dst == own.outside {
        let Some(pkt) = frame.data_mut().get_mut(l3..l3 + ip_len) else {
            return L2Verdict::drop(L2Drop::BadIpv4);
        };
        // RFC 792: an echo request to the box is answered here; anything
        // else (and a request the responder refuses) is the kernel's.
        if local::echo_reply_ipv4(pkt) {
            set_macs(frame.data_mut(), eth.src, own.outside_mac);
            return L2Verdict::of(L2Action::Reply);
        }
        return L2Verdict::of(L2Action::Exception);
    }
    if group_ip {
        return L2Verdict::of(L2Action::Exception);
    }
    L2Verdict::drop(L2Drop::NotOurAddress)
}

#[cfg(test)]
mod tests;
