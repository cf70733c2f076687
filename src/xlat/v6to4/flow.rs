//! Read-only classification of an IPv6 packet: the input to RFC 6146 §3.4
//! ("Determining the Incoming Tuple").

use std::net::Ipv6Addr;

use super::{icmp, Ipv6Info};
use crate::wire::ipv6::HEADER_LEN as IPV6_HEADER_LEN;
use crate::wire::{ip_proto, Icmpv6Packet, Ipv6Packet, TcpPacket, UdpPacket};
use crate::xlat::{tcp_udp_ports, DropReason, Flow, FragInfo, Tuple, L4};

/// Reads the tuple of the IPv6 packet `pkt` (starting at its IPv6 header)
/// without changing it: TCP, UDP or ICMPv6 echo (identifier in both
/// ports); for an ICMPv6 error, the outer addresses with ports 0 and the
/// tuple of the packet it quotes; for a non-first fragment, ports 0.
///
/// Errors: `Truncated`/`BadHeader`/`BadExtensionHeader` for bad input,
/// `UnknownProtocol` for anything but TCP, UDP and ICMPv6,
/// `IcmpUntranslatable` for ICMPv6 other than echo and errors (§5.2),
/// `Fragment` for fragmented ICMPv6 (not an atomic fragment, which is
/// whole), `FirstFragmentShort` for a first fragment without its whole
/// transport header, `IcmpInnerBad` for an error quoting an error or too
/// little to read a tuple from.
#[inline]
pub fn flow6(pkt: &[u8]) -> Result<Flow<Ipv6Addr>, DropReason> {
    match flow6_simple(pkt) {
        Some(flow) => Ok(flow),
        None => flow6_full(pkt),
    }
}

/// [`flow6`] for every packet, without the shortcut. Out of line, so the
/// shortcut inlined where `flow6` is called does not carry it.
#[inline(never)]
pub(super) fn flow6_full(pkt: &[u8]) -> Result<Flow<Ipv6Addr>, DropReason> {
    let info = Ipv6Info::parse(pkt)?;
    if info.frag.is_some() {
        if info.ext_after_fragment() {
            return Err(DropReason::BadExtensionHeader);
        }
        // As translate_6to4: fragmented ICMPv6 is not translated (an
        // atomic fragment is whole, and is).
        if info.proto == ip_proto::ICMPV6 && !info.is_atomic() {
            return Err(DropReason::Fragment);
        }
    }
    let pkt = &pkt[..info.packet_len()];
    // RFC 6146 §3.4: a fragment of a datagram in several pieces; an atomic
    // fragment (RFC 6946) is a whole datagram.
    let frag = info.frag.filter(|_| !info.is_atomic()).map(|f| FragInfo {
        ident: f.ident,
        offset: u32::from(f.frag_offset),
        len: (pkt.len().saturating_sub(info.l4)) as u32,
        more: f.more,
    });
    let upper = pkt.get(info.l4..).unwrap_or_default();
    let l4 = match info.proto {
        ip_proto::TCP => L4::Tcp,
        ip_proto::UDP => L4::Udp,
        ip_proto::ICMPV6 => L4::Icmp,
        _ => return Err(DropReason::UnknownProtocol),
    };
    let mut flow = Flow {
        tuple: Tuple {
            l4,
            src: info.src,
            dst: info.dst,
            src_port: 0,
            dst_port: 0,
        },
        inner: None,
        tcp_flags: 0,
        non_first_fragment: !info.is_first(),
        frag,
    };
    if flow.non_first_fragment {
        return Ok(flow);
    }
    // A first fragment must carry the whole transport header (RFC 6146
    // §3.4 allows requiring it; RFC 7112): a named drop, not `Truncated`.
    let short = if frag.is_some() {
        DropReason::FirstFragmentShort
    } else {
        DropReason::Truncated
    };
    match l4 {
        L4::Tcp => {
            let tcp = TcpPacket::new_checked(upper).map_err(|_| short)?;
            flow.tuple.src_port = tcp.src_port();
            flow.tuple.dst_port = tcp.dst_port();
            flow.tcp_flags = tcp.flags();
        }
        L4::Udp => {
            let udp = UdpPacket::new_checked_header(upper).map_err(|_| short)?;
            flow.tuple.src_port = udp.src_port();
            flow.tuple.dst_port = udp.dst_port();
        }
        L4::Icmp => {
            let msg = Icmpv6Packet::new_checked(upper).map_err(|_| DropReason::Truncated)?;
            if icmp::echo_type_6to4(msg.msg_type()).is_some() {
                flow.tuple.src_port = msg.echo_ident();
                flow.tuple.dst_port = msg.echo_ident();
            } else if (1..=4).contains(&msg.msg_type()) {
                flow.inner = Some(quoted_tuple(msg.payload())?);
            } else {
                return Err(DropReason::IcmpUntranslatable);
            }
        }
    }
    Ok(flow)
}

/// The shortcut of [`flow6`] for simple packets, taken first: TCP or UDP
/// right after the fixed header, whole. `None` for anything else (or anything wrong), which [`flow6`]
/// then reads in full; for what this accepts, that reading gives the same
/// flow (no extension header, so no fragment; the same transport views).
#[inline]
pub(super) fn flow6_simple(pkt: &[u8]) -> Option<Flow<Ipv6Addr>> {
    let (hdr, rest) = pkt.split_first_chunk::<IPV6_HEADER_LEN>()?;
    let ip = Ipv6Packet::new_unchecked(hdr);
    if ip.version() != 6 {
        return None;
    }
    let upper = rest.get(..usize::from(ip.payload_len()))?;
    let (l4, src_port, dst_port, tcp_flags) = tcp_udp_ports(ip.next_header(), upper)?;
    Some(Flow {
        tuple: Tuple {
            l4,
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            src_port,
            dst_port,
        },
        inner: None,
        tcp_flags,
        non_first_fragment: false,
        frag: None,
    })
}

/// The tuple of the packet an ICMPv6 error quotes, as quoted.
fn quoted_tuple(quoted: &[u8]) -> Result<Tuple<Ipv6Addr>, DropReason> {
    let inner = Ipv6Info::parse_quoted(quoted).ok_or(DropReason::IcmpInnerBad)?;
    // Without the first fragment's transport header there is no tuple.
    if !inner.is_first() || (inner.frag.is_some() && inner.proto == ip_proto::ICMPV6) {
        return Err(DropReason::IcmpInnerBad);
    }
    let upper = quoted.get(inner.l4..).unwrap_or_default();
    let mut tuple = Tuple {
        l4: L4::Tcp,
        src: inner.src,
        dst: inner.dst,
        src_port: 0,
        dst_port: 0,
    };
    match inner.proto {
        ip_proto::TCP | ip_proto::UDP => {
            // The 8 bytes every ICMP error quotes at least (RFC 792) hold
            // both ports.
            let udp = UdpPacket::new_checked_header(upper).map_err(|_| DropReason::IcmpInnerBad)?;
            tuple.l4 = if inner.proto == ip_proto::TCP {
                L4::Tcp
            } else {
                L4::Udp
            };
            tuple.src_port = udp.src_port();
            tuple.dst_port = udp.dst_port();
        }
        ip_proto::ICMPV6 => {
            let msg = Icmpv6Packet::new_checked(upper).map_err(|_| DropReason::IcmpInnerBad)?;
            // An error quoting an error (or anything but echo) has no flow.
            if icmp::echo_type_6to4(msg.msg_type()).is_none() {
                return Err(DropReason::IcmpInnerBad);
            }
            tuple.l4 = L4::Icmp;
            tuple.src_port = msg.echo_ident();
            tuple.dst_port = msg.echo_ident();
        }
        _ => return Err(DropReason::IcmpInnerBad),
    }
    Ok(tuple)
}
