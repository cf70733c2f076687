//! ICMPv6 → ICMPv4 (RFC 7915 §5.2), the packet an ICMPv6 error quotes
//! (§5.3) and the ICMPv6 errors the translator sends itself (§5.4, with the
//! RFC 4443 §2.4 rules on when not to send one).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{
    addr_sum_v4, ipv4_slot, rewrite_ports, take_ident, Ipv4Header, Ipv6Info, IPV4_HEADER_LEN,
    IPV6_HEADER_LEN, IPV6_MIN_MTU,
};
use crate::wire::checksum;
use crate::wire::{icmpv4_type, icmpv6_type, ip_proto, Icmpv4Packet, Icmpv6Packet, Ipv6Packet};
use crate::xlat::{
    DropReason, PacketBuf, Plan, ReplyReason, Rewrite, Verdict, XlatConfig, XlatState,
};

/// Length of the ICMP header (type, code, checksum, 4 more bytes) in both
/// versions.
const ICMP_HEADER_LEN: usize = 8;

/// §5.3 / RFC 1812 §4.3.2.3: a translated ICMPv4 error is at most this long.
const ICMPV4_ERROR_MAX: usize = 576;

/// Hop limit of the ICMPv6 errors the translator sends.
const ERROR_HOP_LIMIT: u8 = 64;

/// Whether ICMPv6 type `msg_type` is an error message (RFC 4443 §2.1).
pub(super) fn is_error(msg_type: u8) -> bool {
    msg_type < 128
}

/// §5.2 informational messages: Echo Request and Echo Reply (128, 129)
/// become 8 and 0; MLD (130-132), ND (133-137) and unknown informational
/// messages are silently dropped (`None`).
pub(super) fn echo_type_6to4(msg_type: u8) -> Option<u8> {
    match msg_type {
        icmpv6_type::ECHO_REQUEST => Some(icmpv4_type::ECHO_REQUEST),
        icmpv6_type::ECHO_REPLY => Some(icmpv4_type::ECHO_REPLY),
        _ => None,
    }
}

/// §5.2 Echo Request/Reply, in place on the whole (unfragmented) message
/// `msg` of a packet whose two addresses sum to `addr_sum`
/// ([`Ipv6Info::addr_sum`]): "Adjust the Type values to 8 and 0,
/// respectively, and adjust the ICMP checksum both to take the type change
/// into account and to exclude the ICMPv6 pseudo-header." The identifier
/// becomes `ident` (stateful NAT64 maps it like a port). Fails before
/// changing a byte.
#[inline]
pub(super) fn translate_echo(msg: &mut [u8], addr_sum: u32, ident: u16) -> Result<(), DropReason> {
    let len = msg.len() as u32;
    // The 8-byte header as a fixed array: no per-field bounds checks.
    let head = msg
        .first_chunk_mut::<ICMP_HEADER_LEN>()
        .ok_or(DropReason::Truncated)?;
    let mut icmp = Icmpv6Packet::new_unchecked(head);
    let new_type = echo_type_6to4(icmp.msg_type()).ok_or(DropReason::IcmpUntranslatable)?;
    // The ICMPv6 pseudo-header (RFC 8200 §8.1): addresses, length, 58.
    let pseudo = addr_sum + u32::from(ip_proto::ICMPV6) + (len >> 16) + (len & 0xFFFF);
    let old = pseudo
        + u32::from(u16::from_be_bytes([icmp.msg_type(), icmp.msg_code()]))
        + u32::from(icmp.echo_ident());
    let new = u32::from(u16::from_be_bytes([new_type, icmp.msg_code()])) + u32::from(ident);
    let csum = checksum::update(icmp.checksum(), old, new);
    icmp.set_msg_type(new_type);
    icmp.set_echo_ident(ident);
    icmp.set_checksum(csum);
    Ok(())
}

/// §5.2 Parameter Problem code 0, Figure 6: the IPv4 pointer for an IPv6
/// pointer into the IPv6 header; `None` where the figure says "n/a" or
/// does not list the value (silently drop).
pub(super) fn pointer_6to4(pointer: u32) -> Option<u8> {
    match pointer {
        0 => Some(0),        // Version/Traffic Class -> Version/IHL, Type Of Service
        1 => Some(1),        // Traffic Class/Flow Label -> Type Of Service
        4 | 5 => Some(2),    // Payload Length -> Total Length
        6 => Some(9),        // Next Header -> Protocol
        7 => Some(8),        // Hop Limit -> Time to Live
        8..=23 => Some(12),  // Source Address -> Source Address
        24..=39 => Some(16), // Destination Address -> Destination Address
        _ => None,           // 2, 3 (Flow Label): n/a; beyond 39: not listed
    }
}

/// §5.2 ICMPv6 error → ICMPv4 (type, code, bytes 4..8); `None`: silently
/// drop. `param` is the ICMPv6 bytes 4..8 (MTU or pointer).
fn map_error(msg_type: u8, code: u8, param: u32, cfg: &XlatConfig) -> Option<(u8, u8, u32)> {
    use icmpv4_type::{DST_UNREACHABLE, PARAM_PROBLEM, TIME_EXCEEDED};
    match msg_type {
        // Destination Unreachable (Type 1): Type 3, code translated.
        icmpv6_type::DST_UNREACHABLE => {
            let code4 = match code {
                0 => 1,           // No route to destination -> Host unreachable
                1 => 10,          // Administratively prohibited -> Host administratively prohibited
                2 => 1,           // Beyond scope of source address -> Host unreachable
                3 => 1,           // Address unreachable -> Host unreachable
                4 => 3,           // Port unreachable -> Port unreachable
                _ => return None, // "Other Code values: Silently drop."
            };
            Some((DST_UNREACHABLE, code4, 0))
        }
        // Packet Too Big (Type 2): Type 3 Code 4; "The MTU field MUST be
        // adjusted for the difference between the IPv4 and IPv6 header
        // sizes ... i.e., minimum(advertised MTU-20, MTU_of_IPv4_nexthop,
        // (MTU_of_IPv6_nexthop)-20)." The IPv4 next hop is the outside link
        // the ICMPv4 error leaves by, the IPv6 one the inside link the
        // Packet Too Big came from. Next-Hop MTU is 16 bits (RFC 1191).
        icmpv6_type::PACKET_TOO_BIG => {
            let mtu = param
                .saturating_sub(20)
                .min(u32::from(cfg.ipv4_mtu))
                .min(u32::from(cfg.ipv6_mtu).saturating_sub(20))
                .min(u32::from(u16::MAX));
            Some((DST_UNREACHABLE, 4, mtu))
        }
        // Time Exceeded (Type 3): Type 11, "The Code is unchanged."
        icmpv6_type::TIME_EXCEEDED => Some((TIME_EXCEEDED, code, 0)),
        // Parameter Problem (Type 4).
        icmpv6_type::PARAM_PROBLEM => match code {
            // Erroneous header field: Type 12 Code 0, pointer per Figure 6.
            0 => pointer_6to4(param).map(|p| (PARAM_PROBLEM, 0, u32::from(p) << 24)),
            // Unrecognized Next Header: protocol unreachable (Type 3 Code 2).
            1 => Some((DST_UNREACHABLE, 2, 0)),
            // Unrecognized IPv6 option (2) and unknown codes: silently drop.
            _ => None,
        },
        // "Unknown error messages: Silently drop."
        _ => None,
    }
}

/// §5.2 + §5.3: translates the ICMPv6 error in `buf` (outer packet `outer`,
/// already checked for hop limit and fragments) to an ICMPv4 error.
///
/// Layout before: `[IPv6 | ext | ICMPv6 8 | quoted IPv6 | quoted ext | L4..]`;
/// after: `[IPv4 20 | ICMPv4 8 | quoted IPv4 20 | L4..]`, the quoted
/// upper-layer bytes never moving, cut so the whole packet is at most 576
/// bytes.
pub(super) fn translate_error(
    buf: &mut PacketBuf,
    outer: &Ipv6Info,
    plan: &Plan<Ipv4Addr>,
    cfg: &XlatConfig,
    st: &mut XlatState,
) -> Result<Verdict, DropReason> {
    let data = buf.data();
    let msg = data.get(outer.l4..).unwrap_or_default();
    let icmp = Icmpv6Packet::new_checked(msg).map_err(|_| DropReason::Truncated)?;
    // The ICMPv4 checksum is computed afresh below, so a corrupt message
    // must be caught here rather than be given a valid checksum.
    if !icmp.verify_checksum(&outer.src, &outer.dst) {
        return Err(DropReason::BadIcmpChecksum);
    }
    // §5.2 type and code; bytes 4..8 hold the MTU or pointer.
    let (type4, code4, rest4) = map_error(icmp.msg_type(), icmp.msg_code(), icmp.pointer(), cfg)
        .ok_or(DropReason::IcmpUntranslatable)?;

    // §5.3: "The ICMP error messages containing the packet in error MUST be
    // translated just like a normal IP packet (except that the TTL/Hop
    // Limit value of the inner IPv6/IPv4 header are not decremented)."
    let quoted = icmp.payload();
    let inner = Ipv6Info::parse_quoted(quoted).ok_or(DropReason::IcmpInnerBad)?;
    if inner.frag.is_some() && (inner.ext_after_fragment() || inner.proto == ip_proto::ICMPV6) {
        // As for an outer packet (§5.1.1 and the fragmented-ICMPv6 drop).
        return Err(DropReason::IcmpInnerBad);
    }
    let inner_upper = quoted.get(inner.l4..).unwrap_or_default();
    if inner.is_first() {
        match inner.proto {
            // Both ports are needed (RFC 792: errors quote at least 8 bytes).
            ip_proto::TCP | ip_proto::UDP if inner_upper.len() < 8 => {
                return Err(DropReason::IcmpInnerBad);
            }
            ip_proto::ICMPV6 => {
                // "an ICMP error inside an ICMP error" cannot be translated
                // (and must not exist, RFC 4443 §2.4 (e)); nor can a quoted
                // informational message other than echo.
                let inner_icmp =
                    Icmpv6Packet::new_checked(inner_upper).map_err(|_| DropReason::IcmpInnerBad)?;
                if echo_type_6to4(inner_icmp.msg_type()).is_none() {
                    return Err(DropReason::IcmpInnerBad);
                }
            }
            _ => {}
        }
    }
    // The quoted packet's own length: §5.1 Total Length from its Payload
    // Length, less its extension headers, plus 20.
    let inner_total = (inner.packet_len())
        .checked_sub(inner.l4)
        .map(|upper| upper + IPV4_HEADER_LEN)
        .and_then(|total| u16::try_from(total).ok())
        .ok_or(DropReason::IcmpInnerBad)?;
    // The plan gives the quoted packet's addresses and ports. A caller
    // without one (a bare stateless use) gets the reverse of the outer
    // addresses and the quoted ports unchanged.
    let inner_rewrite = plan.inner.unwrap_or_else(|| {
        let (src_port, dst_port) = quoted_ports(&inner, inner_upper);
        Rewrite {
            src: plan.outer.dst,
            dst: plan.outer.src,
            src_port,
            dst_port,
        }
    });

    // Offsets in the packet: the quoted upper layer stays at `inner_l4`.
    let inner_l4 = outer.l4 + ICMP_HEADER_LEN + inner.l4;
    let new_start = inner_l4 - (IPV4_HEADER_LEN + ICMP_HEADER_LEN + IPV4_HEADER_LEN);
    let new_len = (buf.len() - new_start).min(ICMPV4_ERROR_MAX);
    if new_len > usize::from(cfg.ipv4_mtu) {
        // Never answer an error with an error (RFC 4443 §2.4 (e)).
        return Err(DropReason::TooBig);
    }

    let data = buf.data_mut();
    // The quoted upper layer: ports and checksum (§5.5) or echo (§5.2).
    if inner.is_first() {
        let upper = data.get_mut(inner_l4..).unwrap_or_default();
        match inner.proto {
            ip_proto::TCP | ip_proto::UDP => rewrite_ports(
                upper,
                inner.proto,
                inner.addr_sum(),
                addr_sum_v4(inner_rewrite.src, inner_rewrite.dst),
                inner_rewrite.src_port,
                inner_rewrite.dst_port,
                true,
            )?,
            ip_proto::ICMPV6 => translate_quoted_echo(upper, &inner, inner_rewrite.src_port)?,
            _ => {}
        }
    }
    // The quoted IPv4 header, hop limit kept. Identification: the quoted
    // packet never had one (it was IPv6), so 0 unless a Fragment header
    // gives it.
    let inner_header = Ipv4Header::for_packet(
        &inner,
        cfg,
        inner_total,
        inner.hop_limit,
        inner_rewrite.src,
        inner_rewrite.dst,
        0,
    );
    inner_header.write(ipv4_slot(data, inner_l4)?, true);
    // The ICMPv4 header. Bytes 4..8 carry only the MTU or pointer: an
    // RFC 4884 length in the ICMPv6 error is not carried over, so an ICMP
    // extension, if any, reads as part of the quoted packet (deviation:
    // §5.2 asks to adjust the length attribute; extensions rarely survive
    // the 576-byte cut anyway).
    let icmp_start = inner_l4 - IPV4_HEADER_LEN - ICMP_HEADER_LEN;
    {
        let mut icmp4 = Icmpv4Packet::new_unchecked(&mut data[icmp_start..icmp_start + 8]);
        icmp4.set_msg_type(type4);
        icmp4.set_msg_code(code4);
        icmp4.set_checksum(0);
        icmp4.set_rest_of_header(rest4);
    }

    let moved = buf.adj(new_start);
    debug_assert!(moved);
    buf.truncate(new_len);
    let data = buf.data_mut();
    // Checksum over the whole translated message (no pseudo-header in v4).
    Icmpv4Packet::new_unchecked(&mut data[IPV4_HEADER_LEN..]).fill_checksum();
    // Outer header (§5.1): at most 576 bytes, so DF=0 and a fresh ident.
    let outer_header = Ipv4Header::for_packet(
        outer,
        cfg,
        new_len as u16,
        outer.hop_limit - 1,
        plan.outer.src,
        plan.outer.dst,
        take_ident(st),
    );
    outer_header.write(
        ipv4_slot(data, IPV4_HEADER_LEN)?,
        !cfg.ipv4_checksum_offload,
    );
    Ok(Verdict::Forward)
}

/// The ports (or echo identifier, twice) of a quoted packet, as quoted.
fn quoted_ports(inner: &Ipv6Info, upper: &[u8]) -> (u16, u16) {
    match (inner.is_first(), inner.proto, upper) {
        (true, ip_proto::TCP | ip_proto::UDP, [a, b, c, d, ..]) => {
            (u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d]))
        }
        (true, ip_proto::ICMPV6, [_, _, _, _, a, b, ..]) => {
            let ident = u16::from_be_bytes([*a, *b]);
            (ident, ident)
        }
        _ => (0, 0),
    }
}

/// §5.3 + §5.2: a quoted Echo Request/Reply. Its checksum covered the
/// quoted packet's pseudo-header with the length its Payload Length
/// implies, even when the quote is cut short.
fn translate_quoted_echo(upper: &mut [u8], inner: &Ipv6Info, ident: u16) -> Result<(), DropReason> {
    let len = inner.packet_len().saturating_sub(inner.l4) as u32;
    let mut icmp = Icmpv6Packet::new_checked(upper).map_err(|_| DropReason::IcmpInnerBad)?;
    let new_type = echo_type_6to4(icmp.msg_type()).ok_or(DropReason::IcmpInnerBad)?;
    let pseudo = checksum::pseudo_v6(&inner.src, &inner.dst, ip_proto::ICMPV6, len);
    let old = pseudo
        + u32::from(u16::from_be_bytes([icmp.msg_type(), icmp.msg_code()]))
        + u32::from(icmp.echo_ident());
    let new = u32::from(u16::from_be_bytes([new_type, icmp.msg_code()])) + u32::from(ident);
    let csum = checksum::update(icmp.checksum(), old, new);
    icmp.set_msg_type(new_type);
    icmp.set_echo_ident(ident);
    icmp.set_checksum(csum);
    Ok(())
}

/// §5.4: replaces the IPv6 packet in `buf` with an ICMPv6 error
/// (`icmp_type` 1-4, `code`, `param` = bytes 4..8: MTU or pointer) from
/// `cfg.own_ipv6` to the packet's source, quoting as much of it as keeps the
/// error within 1280 bytes (RFC 4443 §2.4 (c)), hop limit 64.
///
/// Returns `Reply` with the reason matching the type, or `Drop` when no
/// error may be sent (RFC 4443 §2.4 (e)): the packet is itself an ICMPv6
/// error (or cannot be read far enough to tell), its source is unspecified,
/// loopback or multicast, or it went to a multicast group (save Packet Too
/// Big and Parameter Problem code 2). The drop reason is the offending
/// packet's own: `TtlExpiredOnError` for Time Exceeded, `TooBig` for Packet
/// Too Big, and `IcmpErrorSuppressed` for the others (the same choice as
/// `v4to6::icmpv4_error`).
pub fn icmpv6_error(
    buf: &mut PacketBuf,
    icmp_type: u8,
    code: u8,
    param: u32,
    cfg: &XlatConfig,
) -> Verdict {
    let silent = match icmp_type {
        icmpv6_type::TIME_EXCEEDED => DropReason::TtlExpiredOnError,
        icmpv6_type::PACKET_TOO_BIG => DropReason::TooBig,
        _ => DropReason::IcmpErrorSuppressed,
    };
    reply(buf, icmp_type, code, param, cfg, silent)
}

/// [`icmpv6_error`] with the drop reason to give when no error may be sent.
pub(super) fn reply(
    buf: &mut PacketBuf,
    icmp_type: u8,
    code: u8,
    param: u32,
    cfg: &XlatConfig,
    silent: DropReason,
) -> Verdict {
    let reason = match icmp_type {
        icmpv6_type::DST_UNREACHABLE => ReplyReason::DestinationUnreachable,
        icmpv6_type::PACKET_TOO_BIG => ReplyReason::PacketTooBig,
        icmpv6_type::TIME_EXCEEDED => ReplyReason::TimeExceeded,
        icmpv6_type::PARAM_PROBLEM => ReplyReason::ParameterProblem,
        _ => return Verdict::Drop(silent),
    };
    let Some(dst) = may_answer(buf.data(), icmp_type, code) else {
        return Verdict::Drop(silent);
    };
    let src = cfg.own_ipv6;
    const PREFIX: usize = IPV6_HEADER_LEN + ICMP_HEADER_LEN;
    // RFC 4443 §2.4 (c): "as much of invoking packet as possible without
    // the ICMPv6 packet exceeding the minimum IPv6 MTU".
    let mut quote = buf.len().min(IPV6_MIN_MTU as usize - PREFIX);
    let start = buf.start();
    let new_start = if start >= PREFIX {
        start - PREFIX
    } else {
        // Not enough headroom: slide the quote back instead.
        let raw = buf.raw_mut();
        if raw.len() < PREFIX {
            return Verdict::Drop(silent);
        }
        quote = quote.min(raw.len().saturating_sub(PREFIX));
        raw.copy_within(start..start + quote, PREFIX);
        0
    };
    if !buf.set_bounds(new_start, PREFIX + quote) {
        return Verdict::Drop(silent);
    }
    let data = buf.data_mut();
    data[..PREFIX].fill(0);
    {
        let mut ip = Ipv6Packet::new_unchecked(&mut data[..IPV6_HEADER_LEN]);
        ip.set_version(6);
        ip.set_payload_len((ICMP_HEADER_LEN + quote) as u16);
        ip.set_next_header(ip_proto::ICMPV6);
        ip.set_hop_limit(ERROR_HOP_LIMIT);
        ip.set_src_addr(&src);
        ip.set_dst_addr(&dst);
    }
    let mut icmp = Icmpv6Packet::new_unchecked(&mut data[IPV6_HEADER_LEN..]);
    icmp.set_msg_type(icmp_type);
    icmp.set_msg_code(code);
    icmp.set_pointer(param);
    icmp.fill_checksum(&src, &dst);
    Verdict::Reply(reason)
}

/// RFC 4443 §2.4 (e): whether an error of `icmp_type`/`code` may answer
/// `pkt`; `Some(destination)` (the packet's source) if so.
fn may_answer(pkt: &[u8], icmp_type: u8, code: u8) -> Option<Ipv6Addr> {
    let ip = Ipv6Packet::new_checked_header(pkt).ok()?;
    let src = ip.src_addr();
    if src.is_unspecified() || src.is_loopback() || src.is_multicast() {
        return None;
    }
    let multicast_ok = icmp_type == icmpv6_type::PACKET_TOO_BIG
        || (icmp_type == icmpv6_type::PARAM_PROBLEM && code == 2);
    if ip.dst_addr().is_multicast() && !multicast_ok {
        return None;
    }
    // Never an error for an error: walk to the upper layer (over what is
    // present, in case the caller hands a packet cut short); a chain that
    // cannot be walked, or an ICMPv6 message whose type cannot be seen, is
    // not answered.
    let end = pkt
        .len()
        .min(IPV6_HEADER_LEN + usize::from(ip.payload_len()));
    let info = Ipv6Info::parse_quoted(&pkt[..end])?;
    if info.proto == ip_proto::ICMPV6 {
        if !info.is_first() {
            return None;
        }
        let msg_type = *pkt[..end].get(info.l4)?;
        if is_error(msg_type) {
            return None;
        }
    }
    Some(src)
}
