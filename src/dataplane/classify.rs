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
    /// IPv6 header invalid or truncated.
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
    pub const COUNT: usize = 15;

    /// Label for metrics (snake case; the series carries `layer="l2"`, and
    /// no name collides with a pipeline drop reason).
    pub fn name(self) -> &'static str {
        match self {
            L2Drop::Runt => "runt",
            L2Drop::NotForUs => "not_for_us",
            L2Drop::BadSrcMac => "bad_src_mac",
            L2Drop::UnknownEthertype => "unknown_ethertype",
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
fn plain_unicast(d: &[u8], mac: Mac, ethertype: u16) -> bool {
    d.len() >= ETHER_LEN && d[0..6] == mac && d[12..14] == ethertype.to_be_bytes() && d[6] & 1 == 0
}

/// The common inside frame, decided without the general walk: untagged
/// IPv6 to our MAC from a unicast source, for a destination under the
/// NAT64 prefix. Its IP length, or `None` for anything else (which the
/// general path then sorts). The general path gives the same verdict for
/// every frame this accepts (a proptest checks it).
#[inline]
fn plain_nat64_inside(d: &[u8], own: &BoxIdentity) -> Option<usize> {
    if !plain_unicast(d, own.inside_mac, ethertype::IPV6) {
        return None;
    }
    let ip = Ipv6Packet::new_checked(d.get(ETHER_LEN..)?).ok()?;
    own.prefix
        .contains(&ip.dst_addr())
        .then(|| crate::wire::ipv6::HEADER_LEN + usize::from(ip.payload_len()))
}

/// The common outside frame: untagged IPv4 to our MAC from a unicast
/// source, for a pool address (as `plain_nat64_inside`).
#[inline]
fn plain_nat64_outside(d: &[u8], own: &BoxIdentity) -> Option<usize> {
    if !plain_unicast(d, own.outside_mac, ethertype::IPV4) {
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
    match plain_nat64_inside(frame.data(), own) {
        Some(ip_len) => nat64(frame, ETHER_LEN, ip_len),
        None => inside_general(frame, own),
    }
}

/// `inside_frame` for every frame, the common one included.
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
    // RFC 1122 §3.3.6 (and RFC 4861 §7 for ND): a unicast destination in a
    // frame sent to a link-layer group address is discarded.
    if eth.group && !dst.is_multicast() {
        return L2Verdict::drop(L2Drop::GroupFrameUnicastIp);
    }
    if own.prefix.contains(&dst) {
        return nat64(frame, l3, ip_len);
    }
    let ours = dst == own.inside || dst == own.inside_link_local;
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
    if ns.target != own.inside && ns.target != own.inside_link_local {
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
    let ours = na.target == own.inside || na.target == own.inside_link_local;
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
    match plain_nat64_outside(frame.data(), own) {
        Some(ip_len) => nat64(frame, ETHER_LEN, ip_len),
        None => outside_general(frame, own),
    }
}

/// `outside_frame` for every frame, the common one included.
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
mod tests {
    use super::*;
    use crate::dataplane::l2::tests::{own, IN_MAC, OUT_MAC};
    use etherparse::{
        EtherType, Ethernet2Header, Icmpv4Slice, Icmpv6Slice, Ipv4HeaderSlice, Ipv6HeaderSlice,
        PacketBuilder, VlanId,
    };
    use proptest::prelude::*;

    const PEER_MAC: Mac = [0x02, 0, 0, 0, 0, 0x99];
    const HEADROOM: usize = 128;

    fn a6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// A frame in a buffer with headroom and `tail` bytes of tailroom.
    struct Frame {
        mem: Vec<u8>,
        len: usize,
    }

    impl Frame {
        fn new(bytes: &[u8], tail: usize) -> Frame {
            let mut mem = vec![0u8; HEADROOM + bytes.len() + tail];
            mem[HEADROOM..HEADROOM + bytes.len()].copy_from_slice(bytes);
            Frame {
                mem,
                len: bytes.len(),
            }
        }

        /// Runs `f` over the frame; returns the verdict and the bytes after.
        fn run(
            &mut self,
            f: fn(&mut PacketBuf, &BoxIdentity) -> L2Verdict,
            own: &BoxIdentity,
        ) -> (L2Verdict, Vec<u8>) {
            let mut b = PacketBuf::new(&mut self.mem, HEADROOM, self.len).unwrap();
            let v = f(&mut b, own);
            let out = b.data().to_vec();
            self.len = out.len();
            (v, out)
        }
    }

    fn inside(bytes: &[u8]) -> (L2Verdict, Vec<u8>) {
        Frame::new(bytes, 64).run(inside_frame, &own())
    }

    fn outside(bytes: &[u8]) -> (L2Verdict, Vec<u8>) {
        Frame::new(bytes, 64).run(outside_frame, &own())
    }

    fn drop(reason: L2Drop) -> L2Verdict {
        L2Verdict::drop(reason)
    }

    fn exception(learn: Option<(IpAddr, Mac)>) -> L2Verdict {
        L2Verdict {
            action: L2Action::Exception,
            learn,
        }
    }

    /// An ICMPv6 message of raw type in an Ethernet frame, built by
    /// etherparse (which computes the checksum).
    fn icmp6_frame(
        dst_mac: Mac,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hop: u8,
        kind: u8,
        flags: u8,
        body: &[u8],
    ) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(PEER_MAC, dst_mac)
            .ipv6(src.octets(), dst.octets(), hop)
            .icmpv6_raw(kind, 0, [flags, 0, 0, 0])
            .write(&mut v, body)
            .unwrap();
        v
    }

    fn ns_frame(
        dst_mac: Mac,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        target: Ipv6Addr,
        sll: Option<Mac>,
    ) -> Vec<u8> {
        let mut body = target.octets().to_vec();
        if let Some(m) = sll {
            body.extend_from_slice(&[1, 1]); // SLLA option, 8 bytes
            body.extend_from_slice(&m);
        }
        icmp6_frame(dst_mac, src, dst, 255, 135, 0, &body)
    }

    fn echo6_frame(dst_mac: Mac, src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(PEER_MAC, dst_mac)
            .ipv6(src.octets(), dst.octets(), 64)
            .icmpv6_echo_request(5, 6)
            .write(&mut v, b"ping")
            .unwrap();
        v
    }

    fn udp6_frame(dst_mac: Mac, src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(PEER_MAC, dst_mac)
            .ipv6(src.octets(), dst.octets(), 64)
            .udp(1000, 53)
            .write(&mut v, b"query")
            .unwrap();
        v
    }

    /// Checks an NA frame with etherparse: Ethernet, IPv6, ICMPv6 checksum,
    /// flags and the TLLA option.
    fn assert_na(
        out: &[u8],
        l3: usize,
        eth_dst: Mac,
        ip_dst: Ipv6Addr,
        target: Ipv6Addr,
        flags: u8,
    ) {
        let eth = Ethernet2Header::from_slice(out).unwrap().0;
        assert_eq!((eth.destination, eth.source), (eth_dst, IN_MAC));
        assert_eq!(out.len(), l3 + 72);
        let ip = Ipv6HeaderSlice::from_slice(&out[l3..]).unwrap();
        assert_eq!((ip.source_addr(), ip.destination_addr()), (target, ip_dst));
        assert_eq!(ip.hop_limit(), 255);
        let icmp = Icmpv6Slice::from_slice(&out[l3 + 40..]).unwrap();
        assert_eq!((icmp.type_u8(), icmp.code_u8()), (136, 0));
        assert!(icmp.is_checksum_valid(target.octets(), ip_dst.octets()));
        assert_eq!(icmp.bytes5to8(), [flags, 0, 0, 0]);
        let mut body = target.octets().to_vec();
        body.extend_from_slice(&[2, 1]);
        body.extend_from_slice(&IN_MAC);
        assert_eq!(icmp.payload(), &body[..]);
    }

    #[test]
    fn reply_kind_names_each_responder() {
        let o = own();
        let group = crate::dataplane::l2::solicited_node(&o.inside);
        let ns = ns_frame(multicast_mac(&group), a6("fe80::99"), group, o.inside, None);
        let cases = [
            (ns, Some(LocalReply::Nd)),
            (
                echo6_frame(IN_MAC, a6("fe80::99"), o.inside),
                Some(LocalReply::Echo6),
            ),
        ];
        for (f, want) in cases {
            let (v, out) = inside(&f);
            assert_eq!(v.action, L2Action::Reply);
            assert_eq!(reply_kind(&out), want);
            assert_eq!(reply_kind(&f), None, "requests are not replies");
        }
        let arp = arp_frame(
            [0xff; 6],
            1,
            PEER_MAC,
            [198, 51, 100, 254],
            [198, 51, 100, 1],
        );
        let echo = v4_frame(OUT_MAC, [203, 0, 113, 9], [198, 51, 100, 1], true);
        assert_eq!(reply_kind(&outside(&arp).1), Some(LocalReply::Arp));
        assert_eq!(reply_kind(&outside(&echo).1), Some(LocalReply::Echo4));
        assert_eq!(reply_kind(&echo), None);
        assert_eq!(reply_kind(&[]), None);
        let names: Vec<_> = LocalReply::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names, ["arp", "nd", "echo4", "echo6"]);
        assert!(LocalReply::ALL
            .iter()
            .enumerate()
            .all(|(i, k)| k.index() == i));
    }

    /// The fuzz seeds (written by a Python script, field by field, with
    /// their own checksums) reach the paths they are meant to seed.
    #[test]
    fn fuzz_seeds_reach_their_paths() {
        macro_rules! seed {
            ($name:literal) => {
                include_bytes!(concat!("../../fuzz/corpus/dataplane_frames/", $name))
            };
        }
        let reply = L2Verdict::of(L2Action::Reply);
        let nat = L2Verdict::of(L2Action::Nat64 { l3: 14 });
        let cases: [(&[u8], L2Action); 10] = [
            (seed!("seed-in-ns"), reply.action),
            (seed!("seed-in-ns-dad"), reply.action),
            (seed!("seed-in-na"), L2Action::Exception),
            (seed!("seed-in-echo6"), reply.action),
            (seed!("seed-in-echo6-allnodes"), reply.action),
            (seed!("seed-in-nat64-udp"), nat.action),
            (seed!("seed-out-arp-request"), reply.action),
            (seed!("seed-out-arp-reply"), L2Action::Exception),
            (seed!("seed-out-echo4"), reply.action),
            (seed!("seed-out-nat64-padded"), nat.action),
        ];
        for (i, (data, want)) in cases.into_iter().enumerate() {
            let (ctl, frame) = data.split_first().unwrap();
            let f = if ctl & 1 == 1 {
                outside_frame
            } else {
                inside_frame
            };
            let (v, _) = Frame::new(frame, 16).run(f, &own());
            assert_eq!(v.action, want, "seed {i}");
            crate::fuzzing::dataplane_frames(data);
        }
    }

    #[test]
    fn drop_reasons_are_indexed_and_named_once() {
        assert_eq!(L2Drop::ALL.len(), L2Drop::COUNT);
        let mut names = std::collections::HashSet::new();
        for (i, d) in L2Drop::ALL.iter().enumerate() {
            assert_eq!(d.index(), i);
            assert!(names.insert(d.name()), "{}", d.name());
        }
        // The series share `nat64_drops_total` with the pipeline's reasons.
        for d in crate::xlat::DropReason::ALL {
            assert!(!names.contains(d.name()), "{}", d.name());
        }
        for d in crate::nat64::pipeline::Nat64Drop::ALL {
            assert!(!names.contains(d.name()), "{}", d.name());
        }
    }

    #[test]
    fn rfc4861_7_2_3_ns_for_our_address_answered_with_solicited_na() {
        let o = own();
        let peer = a6("2001:db8:1::99");
        for target in [o.inside, o.inside_link_local] {
            let group = crate::dataplane::l2::solicited_node(&target);
            let f = ns_frame(
                multicast_mac(&group),
                peer,
                group,
                target,
                Some([0x02, 0, 0, 0, 0, 0x77]),
            );
            let (v, out) = inside(&f);
            assert_eq!(
                v,
                L2Verdict {
                    action: L2Action::Reply,
                    learn: Some((IpAddr::V6(peer), [0x02, 0, 0, 0, 0, 0x77])),
                }
            );
            // §7.2.4: unicast to the SLLA, flags R, S, O.
            assert_na(&out, 14, [0x02, 0, 0, 0, 0, 0x77], peer, target, 0xe0);
        }
        // NUD probe: unicast, no SLLA: answered to the frame's source MAC, nothing learned.
        let f = ns_frame(IN_MAC, peer, o.inside, o.inside, None);
        let (v, out) = inside(&f);
        assert_eq!(v.action, L2Action::Reply);
        assert_eq!(v.learn, None);
        assert_na(&out, 14, PEER_MAC, peer, o.inside, 0xe0);
    }

    #[test]
    fn rfc4861_7_2_4_dad_ns_answered_to_all_nodes_without_s_flag() {
        let o = own();
        let group = crate::dataplane::l2::solicited_node(&o.inside);
        let f = ns_frame(
            multicast_mac(&group),
            Ipv6Addr::UNSPECIFIED,
            group,
            o.inside,
            None,
        );
        assert_eq!(f.len(), 14 + 64);
        let (v, out) = inside(&f);
        assert_eq!(v, L2Verdict::of(L2Action::Reply));
        // The NA is 8 bytes longer than the DAD NS: the frame grew.
        assert_na(
            &out,
            14,
            [0x33, 0x33, 0, 0, 0, 1],
            a6("ff02::1"),
            o.inside,
            0xa0,
        );
        // Without tailroom it cannot be answered.
        let (v, out) = Frame::new(&f, 0).run(inside_frame, &o);
        assert_eq!(v, drop(L2Drop::NoRoom));
        assert_eq!(out, f);
    }

    #[test]
    fn ieee802_1q_tagged_ns_keeps_its_tag() {
        let o = own();
        let peer = a6("fe80::99");
        let group = crate::dataplane::l2::solicited_node(&o.inside_link_local);
        let mut body = o.inside_link_local.octets().to_vec();
        body.extend_from_slice(&[1, 1, 0x02, 0, 0, 0, 0, 0x99]);
        let mut f = Vec::new();
        PacketBuilder::ethernet2(PEER_MAC, multicast_mac(&group))
            .single_vlan(VlanId::try_new(42).unwrap())
            .ipv6(peer.octets(), group.octets(), 255)
            .icmpv6_raw(135, 0, [0; 4])
            .write(&mut f, &body)
            .unwrap();
        let (v, out) = inside(&f);
        assert_eq!(v.action, L2Action::Reply);
        assert_eq!(v.learn, Some((IpAddr::V6(peer), PEER_MAC)));
        assert_eq!(&out[12..16], &[0x81, 0x00, 0x00, 42]);
        assert_eq!(&out[16..18], &[0x86, 0xdd]);
        assert_eq!(&out[..6], &PEER_MAC);
        let icmp = Icmpv6Slice::from_slice(&out[18 + 40..]).unwrap();
        assert!(icmp.is_checksum_valid(o.inside_link_local.octets(), peer.octets()));
        assert_eq!(out.len(), 18 + 72);
    }

    #[test]
    fn rfc4861_7_1_1_ns_refused_matrix() {
        let o = own();
        let peer = a6("2001:db8:1::99");
        let group = crate::dataplane::l2::solicited_node(&o.inside);
        let mac = multicast_mac(&group);
        let mut hop64 = ns_frame(mac, peer, group, o.inside, Some(PEER_MAC));
        hop64[14 + 7] = 64;
        let mut bad_csum = ns_frame(mac, peer, group, o.inside, Some(PEER_MAC));
        bad_csum[14 + 40 + 2] ^= 0xff;
        let other = a6("2001:db8:1::5");
        let other_group = crate::dataplane::l2::solicited_node(&other);
        let cases = [
            ("hop-limit-64", hop64, drop(L2Drop::BadNd)),
            ("bad-checksum", bad_csum, drop(L2Drop::BadNd)),
            (
                "dad-with-slla",
                ns_frame(mac, Ipv6Addr::UNSPECIFIED, group, o.inside, Some(PEER_MAC)),
                drop(L2Drop::BadNd),
            ),
            (
                "other-target",
                ns_frame(
                    multicast_mac(&other_group),
                    peer,
                    other_group,
                    other,
                    Some(PEER_MAC),
                ),
                drop(L2Drop::NdNotForUs),
            ),
            (
                "to-another-host-unicast",
                ns_frame(IN_MAC, peer, other, other, Some(PEER_MAC)),
                drop(L2Drop::NotOurAddress),
            ),
        ];
        for (name, f, want) in cases {
            let (v, out) = inside(&f);
            assert_eq!(v, want, "{name}");
            assert_eq!(out, f, "{name}: untouched");
        }
    }

    #[test]
    fn rfc4861_7_2_5_na_goes_to_kernel_and_is_learned() {
        let o = own();
        let peer = a6("2001:db8:1::99");
        let mut body = peer.octets().to_vec();
        body.extend_from_slice(&[2, 1, 0x02, 0, 0, 0, 0, 0x55]); // TLLA
        let f = icmp6_frame(IN_MAC, peer, o.inside, 255, 136, 0x60, &body);
        let (v, out) = inside(&f);
        assert_eq!(
            v,
            exception(Some((IpAddr::V6(peer), [0x02, 0, 0, 0, 0, 0x55])))
        );
        assert_eq!(out, f);
        // Unsolicited to all-nodes: learned too (the cache only updates or fills a free slot).
        let all = a6("ff02::1");
        let f = icmp6_frame(multicast_mac(&all), peer, all, 255, 136, 0x20, &body);
        assert_eq!(
            inside(&f).0.learn,
            Some((IpAddr::V6(peer), [0x02, 0, 0, 0, 0, 0x55]))
        );
        // Without TLLA: nothing to learn.
        let f = icmp6_frame(IN_MAC, peer, o.inside, 255, 136, 0x60, &peer.octets());
        assert_eq!(inside(&f).0, exception(None));
        // Claiming our own address: the kernel's business (DAD), not learned.
        let mut own_body = o.inside.octets().to_vec();
        own_body.extend_from_slice(&[2, 1, 0x02, 0, 0, 0, 0, 0x55]);
        let f = icmp6_frame(multicast_mac(&all), peer, all, 255, 136, 0x20, &own_body);
        assert_eq!(inside(&f).0, exception(None));
        // §7.1.2: S flag on a multicast NA: invalid.
        let f = icmp6_frame(multicast_mac(&all), peer, all, 255, 136, 0x60, &body);
        assert_eq!(inside(&f).0, drop(L2Drop::BadNd));
    }

    #[test]
    fn rfc4443_4_2_echo_requests_to_the_box_inside() {
        let o = own();
        let cases = [
            // (sender, destination, frame dst MAC, expected reply source)
            (a6("2001:db8:1::99"), o.inside, IN_MAC, o.inside),
            (a6("2001:db8:7::99"), o.inside, IN_MAC, o.inside),
            (
                a6("fe80::99"),
                o.inside_link_local,
                IN_MAC,
                o.inside_link_local,
            ),
            (
                a6("fe80::99"),
                a6("ff02::1"),
                [0x33, 0x33, 0, 0, 0, 1],
                o.inside_link_local,
            ),
            (
                a6("2001:db8:1::99"),
                a6("ff02::1"),
                [0x33, 0x33, 0, 0, 0, 1],
                o.inside,
            ),
            (
                a6("fe80::99"),
                a6("ff02::2"),
                [0x33, 0x33, 0, 0, 0, 2],
                o.inside_link_local,
            ),
        ];
        for (src, dst, mac, from) in cases {
            let f = echo6_frame(mac, src, dst);
            let (v, out) = inside(&f);
            assert_eq!(v, L2Verdict::of(L2Action::Reply), "{dst}");
            let eth = Ethernet2Header::from_slice(&out).unwrap().0;
            assert_eq!((eth.destination, eth.source), (PEER_MAC, IN_MAC));
            let ip = Ipv6HeaderSlice::from_slice(&out[14..]).unwrap();
            assert_eq!(
                (ip.source_addr(), ip.destination_addr()),
                (from, src),
                "{dst}"
            );
            let icmp = Icmpv6Slice::from_slice(&out[54..]).unwrap();
            assert_eq!(
                icmp.icmp_type(),
                etherparse::Icmpv6Type::EchoReply(etherparse::IcmpEchoHeader { id: 5, seq: 6 })
            );
            assert_eq!(icmp.payload(), b"ping");
            assert!(icmp.is_checksum_valid(from.octets(), src.octets()));
        }
        // A group the box is not in: the kernel decides.
        let g = a6("ff05::1:3");
        let f = echo6_frame(multicast_mac(&g), a6("fe80::99"), g);
        assert_eq!(inside(&f), (exception(None), f.clone()));
        // A broken request: the kernel decides.
        let mut f = echo6_frame(IN_MAC, a6("fe80::99"), o.inside);
        f[14 + 40 + 2] ^= 1;
        assert_eq!(inside(&f), (exception(None), f.clone()));
    }

    #[test]
    fn inside_matrix() {
        let o = own();
        let host = a6("2001:db8:1::99");
        let nat = a6("2001:db8:64::c000:205"); // 192.0.2.5 under the prefix
        let mut padded = udp6_frame(IN_MAC, host, nat);
        let real = padded.len();
        padded.extend_from_slice(&[0xEE; 6]); // trailer after the IPv6 packet
        let mut tagged = Vec::new();
        PacketBuilder::ethernet2(PEER_MAC, IN_MAC)
            .single_vlan(VlanId::try_new(7).unwrap())
            .ipv6(host.octets(), nat.octets(), 64)
            .udp(1, 2)
            .write(&mut tagged, b"x")
            .unwrap();
        let mut ipv4 = Vec::new();
        PacketBuilder::ethernet2(PEER_MAC, IN_MAC)
            .ipv4([192, 0, 2, 9], [192, 0, 2, 1], 64)
            .udp(1, 2)
            .write(&mut ipv4, b"x")
            .unwrap();
        let mut arp = Ethernet2Header {
            source: PEER_MAC,
            destination: [0xff; 6],
            ether_type: EtherType::ARP,
        }
        .to_bytes()
        .to_vec();
        arp.extend_from_slice(&[0; 28]);
        let mut qinq = udp6_frame(IN_MAC, host, nat);
        qinq[12..14].copy_from_slice(&[0x81, 0x00]);
        qinq.splice(14..14, [0, 1, 0x81, 0x00]);
        let mut bad_version = udp6_frame(IN_MAC, host, nat);
        bad_version[14] = 0x40;
        let mut src_group = udp6_frame(IN_MAC, host, nat);
        src_group[6] = 0x01;
        let mut short_payload = udp6_frame(IN_MAC, host, nat);
        short_payload.truncate(14 + 40 + 4);
        let cases: Vec<(&str, Vec<u8>, L2Verdict)> = vec![
            (
                "nat64",
                udp6_frame(IN_MAC, host, nat),
                L2Verdict::of(L2Action::Nat64 { l3: 14 }),
            ),
            (
                "nat64-tagged",
                tagged,
                L2Verdict::of(L2Action::Nat64 { l3: 18 }),
            ),
            (
                "udp-to-box",
                udp6_frame(IN_MAC, host, o.inside),
                exception(None),
            ),
            (
                "udp-to-all-nodes",
                udp6_frame([0x33, 0x33, 0, 0, 0, 1], host, a6("ff02::1")),
                exception(None),
            ),
            (
                "to-another-host",
                udp6_frame(IN_MAC, host, a6("2001:db8:1::5")),
                drop(L2Drop::NotOurAddress),
            ),
            (
                "unicast-in-group-frame",
                udp6_frame([0x33, 0x33, 0, 0, 0, 1], host, nat),
                drop(L2Drop::GroupFrameUnicastIp),
            ),
            (
                "unicast-in-broadcast",
                udp6_frame([0xff; 6], host, o.inside),
                drop(L2Drop::GroupFrameUnicastIp),
            ),
            (
                "other-mac",
                udp6_frame([0x02, 0, 0, 0, 0, 0x12], host, nat),
                drop(L2Drop::NotForUs),
            ),
            ("group-src-mac", src_group, drop(L2Drop::BadSrcMac)),
            ("ipv4", ipv4, drop(L2Drop::WrongFamily)),
            ("arp", arp, drop(L2Drop::WrongFamily)),
            ("qinq", qinq, drop(L2Drop::UnknownEthertype)),
            ("bad-version", bad_version, drop(L2Drop::BadIpv6)),
            ("truncated", short_payload, drop(L2Drop::BadIpv6)),
            ("runt", vec![0; 13], drop(L2Drop::Runt)),
        ];
        for (name, f, want) in cases {
            let (v, out) = inside(&f);
            assert_eq!(v, want, "{name}");
            assert_eq!(out, f, "{name}: untouched");
        }
        let (v, out) = inside(&padded);
        assert_eq!(v, L2Verdict::of(L2Action::Nat64 { l3: 14 }));
        assert_eq!(out, padded[..real], "trailer trimmed");
    }

    /// An Ethernet + ARP frame, the ARP bytes written by hand (etherparse
    /// 0.16 has no ARP).
    #[rustfmt::skip]
    fn arp_frame(dst_mac: Mac, op: u16, sha: Mac, spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
        let mut f = Ethernet2Header { source: sha, destination: dst_mac, ether_type: EtherType::ARP }
            .to_bytes()
            .to_vec();
        f.extend_from_slice(&[0x00, 0x01, 0x08, 0x00, 6, 4]); // Ethernet, IPv4, 6, 4
        f.extend_from_slice(&op.to_be_bytes());               // operation
        f.extend_from_slice(&sha);                            // sender hardware address
        f.extend_from_slice(&spa);                            // sender protocol address
        f.extend_from_slice(&[0; 6]);                         // target hardware address
        f.extend_from_slice(&tpa);                            // target protocol address
        f.extend_from_slice(&[0; 18]);                        // padding to 60 bytes
        f
    }

    #[test]
    #[rustfmt::skip]
    fn rfc826_request_for_our_addresses_answered_and_sender_learned() {
        let gw = [198, 51, 100, 254];
        for ours in [[198, 51, 100, 1], [192, 0, 2, 0], [192, 0, 2, 15]] {
            let f = arp_frame([0xff; 6], 1, PEER_MAC, gw, ours);
            let (v, out) = outside(&f);
            assert_eq!(
                v,
                L2Verdict {
                    action: L2Action::Reply,
                    learn: Some((IpAddr::V4(Ipv4Addr::from(gw)), PEER_MAC)),
                }
            );
            let mut expect = vec![
                0x02, 0, 0, 0, 0, 0x99,             // Ethernet dst: the requester
                0x02, 0, 0, 0, 0, 0x22,             // Ethernet src: outside MAC
                0x08, 0x06,                         // ARP
                0x00, 0x01, 0x08, 0x00, 6, 4,
                0x00, 0x02,                         // op: reply
                0x02, 0, 0, 0, 0, 0x22,             // sender: our MAC
            ];
            expect.extend_from_slice(&ours);        // sender: the address asked for
            expect.extend_from_slice(&PEER_MAC);    // target: the requester
            expect.extend_from_slice(&gw);
            expect.extend_from_slice(&[0; 18]);     // padding kept
            assert_eq!(out, expect);
        }
        // RFC 5227 probe (sender 0.0.0.0): answered, not learned.
        let f = arp_frame([0xff; 6], 1, PEER_MAC, [0; 4], [198, 51, 100, 1]);
        assert_eq!(outside(&f).0, L2Verdict::of(L2Action::Reply));
    }

    #[test]
    fn rfc826_arp_matrix() {
        let peer = PEER_MAC;
        let gw = [198, 51, 100, 254];
        let learn_gw = Some((IpAddr::V4(Ipv4Addr::from(gw)), peer));
        let mut foreign_htype = arp_frame([0xff; 6], 1, peer, gw, [198, 51, 100, 1]);
        foreign_htype[15] = 6;
        let mut bcast_sha = arp_frame([0xff; 6], 1, peer, gw, [198, 51, 100, 1]);
        bcast_sha[22..28].copy_from_slice(&[0xff; 6]);
        let cases: Vec<(&str, Vec<u8>, L2Verdict)> = vec![
            (
                "reply-to-us",
                arp_frame(OUT_MAC, 2, peer, gw, [198, 51, 100, 1]),
                exception(learn_gw),
            ),
            (
                "reply-to-pool",
                arp_frame(OUT_MAC, 2, peer, gw, [192, 0, 2, 3]),
                exception(learn_gw),
            ),
            (
                "gratuitous-request",
                arp_frame([0xff; 6], 1, peer, gw, gw),
                exception(learn_gw),
            ),
            (
                "gratuitous-reply",
                arp_frame([0xff; 6], 2, peer, gw, gw),
                exception(learn_gw),
            ),
            (
                "request-for-other",
                arp_frame([0xff; 6], 1, peer, gw, [198, 51, 100, 7]),
                drop(L2Drop::ArpNotForUs),
            ),
            (
                "reply-for-other",
                arp_frame([0xff; 6], 2, peer, gw, [198, 51, 100, 7]),
                drop(L2Drop::ArpNotForUs),
            ),
            (
                "claims-our-address",
                arp_frame([0xff; 6], 1, peer, [198, 51, 100, 1], [198, 51, 100, 1]),
                drop(L2Drop::ArpConflict),
            ),
            (
                "claims-pool-address",
                arp_frame([0xff; 6], 2, peer, [192, 0, 2, 4], gw),
                drop(L2Drop::ArpConflict),
            ),
            (
                "op-3",
                arp_frame([0xff; 6], 3, peer, gw, [198, 51, 100, 1]),
                drop(L2Drop::BadArp),
            ),
            ("foreign-htype", foreign_htype, drop(L2Drop::BadArp)),
            ("broadcast-sha", bcast_sha, drop(L2Drop::BadArp)),
            (
                "truncated",
                arp_frame([0xff; 6], 1, peer, gw, [198, 51, 100, 1])[..41].to_vec(),
                drop(L2Drop::BadArp),
            ),
            (
                "to-other-mac",
                arp_frame([0x02, 0, 0, 0, 0, 0x33], 2, peer, gw, [198, 51, 100, 1]),
                drop(L2Drop::NotForUs),
            ),
        ];
        for (name, f, want) in cases {
            let (v, out) = outside(&f);
            assert_eq!(v, want, "{name}");
            assert_eq!(out, f, "{name}: untouched");
        }
        // ARP on the inside is the wrong family.
        let f = arp_frame([0xff; 6], 1, peer, gw, [198, 51, 100, 1]);
        assert_eq!(inside(&f).0, drop(L2Drop::WrongFamily));
    }

    fn v4_frame(dst_mac: Mac, src: [u8; 4], dst: [u8; 4], icmp_echo: bool) -> Vec<u8> {
        let mut v = Vec::new();
        let b = PacketBuilder::ethernet2(PEER_MAC, dst_mac).ipv4(src, dst, 64);
        if icmp_echo {
            b.icmpv4_echo_request(9, 10).write(&mut v, b"ping").unwrap();
        } else {
            b.udp(1000, 2000).write(&mut v, b"x").unwrap();
        }
        v
    }

    #[test]
    fn rfc792_echo_to_the_outside_address_answered() {
        let f = v4_frame(OUT_MAC, [203, 0, 113, 9], [198, 51, 100, 1], true);
        let (v, out) = outside(&f);
        assert_eq!(v, L2Verdict::of(L2Action::Reply));
        let eth = Ethernet2Header::from_slice(&out).unwrap().0;
        assert_eq!((eth.destination, eth.source), (PEER_MAC, OUT_MAC));
        let ip = Ipv4HeaderSlice::from_slice(&out[14..]).unwrap();
        assert_eq!(
            (ip.source(), ip.destination()),
            ([198, 51, 100, 1], [203, 0, 113, 9])
        );
        assert_eq!(ip.header_checksum(), ip.to_header().calc_header_checksum());
        let icmp = Icmpv4Slice::from_slice(&out[34..]).unwrap();
        let echo = etherparse::IcmpEchoHeader { id: 9, seq: 10 };
        assert_eq!(icmp.icmp_type(), etherparse::Icmpv4Type::EchoReply(echo));
        assert_eq!(
            icmp.checksum(),
            etherparse::Icmpv4Header::with_checksum(
                etherparse::Icmpv4Type::EchoReply(echo),
                b"ping"
            )
            .checksum
        );
    }

    #[test]
    fn outside_ipv4_matrix() {
        let o = own();
        let peer = [203, 0, 113, 9];
        let mut ipv6 = Vec::new();
        PacketBuilder::ethernet2(PEER_MAC, OUT_MAC)
            .ipv6(a6("2001:db8::1").octets(), a6("2001:db8::2").octets(), 64)
            .udp(1, 2)
            .write(&mut ipv6, b"x")
            .unwrap();
        let mut bad_ihl = v4_frame(OUT_MAC, peer, [198, 51, 100, 1], false);
        bad_ihl[14] = 0x44;
        let cases: Vec<(&str, Vec<u8>, L2Verdict)> = vec![
            (
                "udp-to-box",
                v4_frame(OUT_MAC, peer, [198, 51, 100, 1], false),
                exception(None),
            ),
            (
                "echo-to-pool",
                v4_frame(OUT_MAC, peer, [192, 0, 2, 9], true),
                L2Verdict::of(L2Action::Nat64 { l3: 14 }),
            ),
            (
                "limited-broadcast",
                v4_frame([0xff; 6], peer, [255, 255, 255, 255], false),
                exception(None),
            ),
            (
                "directed-broadcast",
                v4_frame([0xff; 6], peer, [198, 51, 100, 255], false),
                exception(None),
            ),
            (
                "multicast",
                v4_frame([0x01, 0, 0x5e, 0, 0, 0x12], peer, [224, 0, 0, 18], false),
                exception(None),
            ),
            (
                "echo-to-broadcast",
                v4_frame([0xff; 6], peer, [255, 255, 255, 255], true),
                exception(None),
            ),
            (
                "to-other",
                v4_frame(OUT_MAC, peer, [198, 51, 100, 7], false),
                drop(L2Drop::NotOurAddress),
            ),
            (
                "unicast-in-broadcast",
                v4_frame([0xff; 6], peer, [192, 0, 2, 9], false),
                drop(L2Drop::GroupFrameUnicastIp),
            ),
            ("ipv6", ipv6, drop(L2Drop::WrongFamily)),
            ("bad-ihl", bad_ihl, drop(L2Drop::BadIpv4)),
            (
                "other-mac",
                v4_frame(IN_MAC, peer, [192, 0, 2, 9], false),
                drop(L2Drop::NotForUs),
            ),
        ];
        for (name, f, want) in cases {
            let (v, out) = Frame::new(&f, 64).run(outside_frame, &o);
            assert_eq!(v, want, "{name}");
            assert_eq!(out, f, "{name}: untouched");
        }
    }

    #[test]
    fn nat64_frame_loses_its_ethernet_padding() {
        // 14 + 20 + 8 + 1 = 43 bytes, padded to the 60-byte minimum.
        let mut f = v4_frame(OUT_MAC, [203, 0, 113, 9], [192, 0, 2, 9], false);
        let real = f.len();
        f.resize(60, 0);
        let (v, out) = outside(&f);
        assert_eq!(v, L2Verdict::of(L2Action::Nat64 { l3: 14 }));
        assert_eq!(out, f[..real]);
    }

    #[test]
    fn outside_address_in_the_pool_is_nat64() {
        let mut o = own();
        o.outside = Ipv4Addr::new(192, 0, 2, 1);
        let f = v4_frame(OUT_MAC, [203, 0, 113, 9], [192, 0, 2, 1], true);
        let (v, _) = Frame::new(&f, 64).run(outside_frame, &o);
        assert_eq!(v, L2Verdict::of(L2Action::Nat64 { l3: 14 }));
    }

    /// Frames that get past the Ethernet checks often: our MAC or a group,
    /// a known EtherType, random bytes after.
    fn plausible_frame() -> impl Strategy<Value = (Vec<u8>, usize)> {
        (
            prop::sample::select(vec![
                IN_MAC,
                OUT_MAC,
                [0xff; 6],
                [0x33, 0x33, 0xff, 0, 0, 1],
            ]),
            prop::sample::select(vec![0x86ddu16, 0x0800, 0x0806, 0x8100]),
            prop::sample::select(vec![0x60u8, 0x45, 0x00]),
            prop::collection::vec(any::<u8>(), 0..120),
            0usize..16,
        )
            .prop_map(|(dst, et, first, rest, tail)| {
                let mut f = dst.to_vec();
                f.extend_from_slice(&PEER_MAC);
                f.extend_from_slice(&et.to_be_bytes());
                f.push(first);
                f.extend_from_slice(&rest);
                (f, tail)
            })
    }

    /// Valid NS / echo / ARP frames with a few random bytes changed.
    fn mutated_frame() -> impl Strategy<Value = (Vec<u8>, Vec<(usize, u8)>, usize)> {
        let o = own();
        let group = crate::dataplane::l2::solicited_node(&o.inside);
        let bases = vec![
            ns_frame(
                multicast_mac(&group),
                a6("fe80::99"),
                group,
                o.inside,
                Some(PEER_MAC),
            ),
            ns_frame(
                multicast_mac(&group),
                Ipv6Addr::UNSPECIFIED,
                group,
                o.inside,
                None,
            ),
            echo6_frame(IN_MAC, a6("fe80::99"), o.inside),
            arp_frame(
                [0xff; 6],
                1,
                PEER_MAC,
                [198, 51, 100, 254],
                [198, 51, 100, 1],
            ),
            v4_frame(OUT_MAC, [203, 0, 113, 9], [198, 51, 100, 1], true),
        ];
        (
            prop::sample::select(bases),
            prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
            0usize..16,
        )
    }

    fn never_panics(bytes: &[u8], tail: usize) {
        let o = own();
        for f in [
            inside_frame as fn(&mut PacketBuf, &BoxIdentity) -> L2Verdict,
            outside_frame,
        ] {
            let mut frame = Frame::new(bytes, tail);
            let (v, out) = frame.run(f, &o);
            match v.action {
                L2Action::Nat64 { l3 } => {
                    assert!(l3 <= out.len());
                    assert_eq!(out, bytes[..out.len()], "only trimmed");
                }
                L2Action::Exception | L2Action::Drop(_) => assert_eq!(out, bytes),
                L2Action::Reply => assert!(out.len() <= bytes.len() + tail),
            }
        }
    }

    /// The shortcuts take a frame only when the general path would have
    /// made it the same NAT64 frame, trimmed the same way.
    fn shortcut_agrees(bytes: &[u8]) {
        let o = own();
        for (short, general) in [
            (
                plain_nat64_inside as fn(&[u8], &BoxIdentity) -> Option<usize>,
                inside_general as fn(&mut PacketBuf, &BoxIdentity) -> L2Verdict,
            ),
            (plain_nat64_outside, outside_general),
        ] {
            let Some(ip_len) = short(bytes, &o) else {
                continue;
            };
            let (v, out) = Frame::new(bytes, 0).run(general, &o);
            assert_eq!(v, L2Verdict::of(L2Action::Nat64 { l3: ETHER_LEN }));
            assert_eq!(out.len(), ETHER_LEN + ip_len);
        }
    }

    /// NAT64 frames both ways (and near misses) with a few bytes changed.
    fn nat64_frame() -> impl Strategy<Value = (Vec<u8>, Vec<(usize, u8)>)> {
        let o = own();
        let server = o.prefix.embed(Ipv4Addr::new(192, 0, 2, 33));
        let bases = vec![
            udp6_frame(IN_MAC, a6("2001:db8:1::99"), server),
            udp6_frame(IN_MAC, a6("2001:db8:1::99"), a6("2001:db8:2::1")),
            udp6_frame([0xff; 6], a6("2001:db8:1::99"), server),
            v4_frame(OUT_MAC, [203, 0, 113, 9], [192, 0, 2, 1], false),
            v4_frame(OUT_MAC, [203, 0, 113, 9], [198, 51, 100, 1], false),
        ];
        (
            prop::sample::select(bases),
            prop::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        )
    }

    proptest! {
        #[test]
        fn shortcuts_agree_with_the_general_path((mut bytes, edits) in nat64_frame()) {
            for (at, value) in edits {
                let n = bytes.len();
                bytes[at % n] = value;
            }
            shortcut_agrees(&bytes);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..160), tail in 0usize..16) {
            never_panics(&bytes, tail);
        }

        #[test]
        fn plausible_frames_never_panic((bytes, tail) in plausible_frame()) {
            never_panics(&bytes, tail);
        }

        #[test]
        fn mutated_valid_frames_never_panic((mut bytes, edits, tail) in mutated_frame()) {
            for (at, value) in edits {
                let n = bytes.len();
                bytes[at % n] = value;
            }
            never_panics(&bytes, tail);
        }
    }
}
