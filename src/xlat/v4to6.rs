//! IPv4 → IPv6 translation (RFC 7915 §4), in place on a [`PacketBuf`].
//!
//! Promises: the IPv4 header is replaced by an IPv6 header (and a Fragment
//! header where §4.1 asks for one) by growing the packet into its headroom;
//! the payload is never copied. Even an ICMP error, whose quoted packet
//! grows by 20 bytes (§4.3), keeps its quoted transport bytes in place:
//! everything in front of them is rewritten into the headroom. Every input,
//! however malformed, yields a [`Verdict`]; nothing here panics on packet
//! data.
//!
//! Implemented: §4.1 (header, TTL, options, Fragment header, DF/MTU), §4.2
//! (ICMPv4 → ICMPv6 type/code/MTU/pointer mapping), §4.3 (the packet quoted
//! by an ICMP error), §4.4 (ICMPv4 errors of our own, [`icmpv4_error`]),
//! §4.5 (TCP/UDP checksums, UDP checksum 0). Also [`fragment_ipv6`] for DF=0
//! packets larger than the lowest IPv6 MTU and [`flow4`], the read-only
//! RFC 6146 §3.4 classification.
//!
//! ICMP errors carrying RFC 4884 extensions keep them, behind the longer
//! translated original datagram (§4.2 "ICMP Error Payload").
//!
//! A simple packet (see the `xlat` module docs: no options, not a
//! fragment; TCP, UDP or echo; nothing to refuse) takes the simple-packet
//! path (`translate_simple`), which reads the header once; anything else
//! takes the full path, with the same outcome either way (a proptest
//! compares the two).
//!
//! Deliberate deviation, commented where it happens: fragmented ICMPv4 is
//! dropped (`DropReason::Fragment`): the ICMPv6 checksum covers a
//! pseudo-header with the whole message's length, which a translator
//! without reassembly cannot know.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{
    DropReason, Flow, FragInfo, PacketBuf, Plan, ReplyReason, Rewrite, SimpleFlow, Tuple, Verdict,
    XlatConfig, XlatState, L4,
};
use crate::wire::{
    self, checksum as csum, icmpv4_type, icmpv6_type, ip_proto, Icmpv4Packet, Icmpv6Packet,
    Ipv4Packet, Ipv6FragHeader, Ipv6Packet, TcpPacket, UdpPacket,
};

#[cfg(test)]
mod tests;

/// IPv4 header without options.
const IPV4_HDR: usize = wire::ipv4::HEADER_LEN;
/// IPv6 fixed header.
const IPV6_HDR: usize = wire::ipv6::HEADER_LEN;
/// IPv6 Fragment header.
const FRAG_HDR: usize = wire::ipv6::FRAG_HEADER_LEN;
/// ICMP header (type, code, checksum, 4 bytes rest of header).
const ICMP_HDR: usize = wire::icmpv4::HEADER_LEN;
/// IPv6 minimum MTU (RFC 8200 §5): ICMPv6 errors never exceed it (RFC 4443 §2.4).
const IPV6_MIN_MTU: usize = 1280;
/// RFC 1812 §4.3.2.3: an ICMPv4 error never exceeds 576 bytes.
const ICMPV4_ERROR_MAX: usize = 576;
/// Largest fragment `fragment_ipv6` builds (a 9216-byte jumbo frame).
const MAX_FRAGMENT: usize = 9216;
/// IGMP, which §4.2 drops.
const IGMP: u8 = 2;

/// A wire view error as a drop reason.
fn bad(e: wire::Error) -> DropReason {
    match e {
        wire::Error::Truncated => DropReason::Truncated,
        wire::Error::Malformed => DropReason::BadHeader,
    }
}

// ---------------------------------------------------------------------------
// Bounds-checked byte access, for transport headers quoted by an ICMP error:
// those may be cut short after their first 8 bytes, so no view fits them.

fn get8(b: &[u8], at: usize) -> Result<u8, DropReason> {
    b.get(at).copied().ok_or(DropReason::Truncated)
}

fn get16(b: &[u8], at: usize) -> Result<u16, DropReason> {
    match b.get(at..at.wrapping_add(2)) {
        Some(&[x, y]) => Ok(u16::from_be_bytes([x, y])),
        _ => Err(DropReason::Truncated),
    }
}

fn put16(b: &mut [u8], at: usize, v: u16) -> Result<(), DropReason> {
    b.get_mut(at..at.wrapping_add(2))
        .ok_or(DropReason::Truncated)?
        .copy_from_slice(&v.to_be_bytes());
    Ok(())
}

/// `b[at..at + len]`, or `Truncated`.
fn window(b: &mut [u8], at: usize, len: usize) -> Result<&mut [u8], DropReason> {
    b.get_mut(at..at.saturating_add(len))
        .ok_or(DropReason::Truncated)
}

/// Sum of the two words of an IPv4 address.
#[inline]
fn sum4(a: Ipv4Addr) -> u32 {
    csum::sum_ipv4_addr(a)
}

/// Sum of the eight words of an IPv6 address.
#[inline]
fn sum6(a: &Ipv6Addr) -> u32 {
    csum::sum_ipv6_addr(a)
}

// ---------------------------------------------------------------------------
// IPv4 header, read once before the buffer is rewritten.

/// The IPv4 header fields translation needs, copied out of the packet.
#[derive(Debug, Clone, Copy)]
struct V4Hdr {
    /// Header length in bytes (options included).
    ihl: usize,
    tos: u8,
    /// Total length in bytes.
    total: usize,
    ident: u16,
    df: bool,
    mf: bool,
    /// Fragment offset in bytes.
    frag_off: usize,
    ttl: u8,
    proto: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
}

impl V4Hdr {
    /// Parse a header whose datagram must be wholly inside `pkt`.
    fn parse(pkt: &[u8]) -> Result<V4Hdr, DropReason> {
        Ok(Self::of(&Ipv4Packet::new_checked(pkt).map_err(bad)?))
    }

    /// Parse a header quoted by an ICMP error: the header itself must be
    /// complete, the datagram behind it may be cut short.
    fn parse_quoted(pkt: &[u8]) -> Result<V4Hdr, DropReason> {
        let p = Ipv4Packet::new_checked_header(pkt).map_err(bad)?;
        if usize::from(p.total_len()) < p.header_len() {
            return Err(DropReason::BadHeader);
        }
        Ok(Self::of(&p))
    }

    fn of(p: &Ipv4Packet<&[u8]>) -> V4Hdr {
        V4Hdr {
            ihl: p.header_len(),
            tos: p.tos(),
            total: usize::from(p.total_len()),
            ident: p.ident(),
            df: p.dont_frag(),
            mf: p.more_frags(),
            frag_off: usize::from(p.frag_offset()),
            ttl: p.ttl(),
            proto: p.protocol(),
            src: p.src_addr(),
            dst: p.dst_addr(),
        }
    }

    /// MF set or offset non-zero.
    fn is_fragment(&self) -> bool {
        self.mf || self.frag_off != 0
    }

    /// Bytes of transport header and data the datagram declares.
    fn l4_len(&self) -> usize {
        self.total - self.ihl
    }
}

/// ICMPv4 types that are error messages (RFC 1812 §4.3.2.7 never answers them).
fn is_icmpv4_error_type(t: u8) -> bool {
    matches!(
        t,
        icmpv4_type::DST_UNREACHABLE
            | icmpv4_type::SOURCE_QUENCH
            | icmpv4_type::REDIRECT
            | icmpv4_type::TIME_EXCEEDED
            | icmpv4_type::PARAM_PROBLEM
    )
}

/// True if `pkt` (with header `h`) carries an ICMPv4 error message.
fn carries_icmp_error(pkt: &[u8], h: &V4Hdr) -> bool {
    h.proto == ip_proto::ICMP
        && h.frag_off == 0
        && pkt.get(h.ihl).is_some_and(|&t| is_icmpv4_error_type(t))
}

/// RFC 7915 §4.1: is there an unexpired (pointer <= length) loose or
/// strict source route option (RFC 791 types 131 / 137)?
fn unexpired_source_route(opts: &[u8]) -> Result<bool, DropReason> {
    let mut i = 0;
    while let Some(&kind) = opts.get(i) {
        match kind {
            0 => break,  // End of Option List
            1 => i += 1, // No Operation
            _ => {
                let len = usize::from(get8(opts, i + 1).map_err(|_| DropReason::BadHeader)?);
                if len < 2 || i + len > opts.len() {
                    // Malformed options: a router answers these with a
                    // Parameter Problem; we simply refuse the packet.
                    return Err(DropReason::BadHeader);
                }
                if kind == 0x83 || kind == 0x89 {
                    let ptr = get8(opts, i + 2).map_err(|_| DropReason::BadHeader)?;
                    if usize::from(ptr) <= len {
                        return Ok(true);
                    }
                }
                i += len;
            }
        }
    }
    Ok(false)
}

// ---------------------------------------------------------------------------
// IPv6 header construction.

/// What goes into a fixed IPv6 header.
struct V6Fields<'a> {
    tc: u8,
    payload_len: usize,
    next: u8,
    hop: u8,
    src: &'a Ipv6Addr,
    dst: &'a Ipv6Addr,
}

/// Write the fixed IPv6 header at `b[at..]` (RFC 7915 §4.1; flow label 0).
fn put_ipv6_header(b: &mut [u8], at: usize, f: &V6Fields) -> Result<(), DropReason> {
    let out = window(b, at, IPV6_HDR)?
        .first_chunk_mut()
        .ok_or(DropReason::Truncated)?;
    write_ipv6_header(out, f);
    Ok(())
}

/// Write the fixed IPv6 header into `out` (RFC 7915 §4.1; flow label 0); a
/// fixed-size array, so the setters need no bounds checks.
#[inline]
fn write_ipv6_header(out: &mut [u8; IPV6_HDR], f: &V6Fields) {
    let mut p = Ipv6Packet::new_unchecked(out);
    p.set_version(6);
    p.set_traffic_class(f.tc);
    p.set_flow_label(0);
    p.set_payload_len(f.payload_len as u16);
    p.set_next_header(f.next);
    p.set_hop_limit(f.hop);
    p.set_src_addr(f.src);
    p.set_dst_addr(f.dst);
}

/// Write a Fragment header at `b[at..]` (§4.1): offset in bytes and M
/// copied, identification = the IPv4 Identification in the low 16 bits.
fn put_frag_header(b: &mut [u8], at: usize, next: u8, h: &V4Hdr) -> Result<(), DropReason> {
    let mut f = Ipv6FragHeader::new_unchecked(window(b, at, FRAG_HDR)?);
    f.set_next_header(next);
    f.clear_reserved();
    f.set_frag_offset(h.frag_off as u16);
    f.set_more_frags(h.mf);
    f.set_ident(u32::from(h.ident));
    Ok(())
}

/// §4.1 Traffic Class: the TOS octet, or 0 if configured so.
fn traffic_class(tos: u8, cfg: &XlatConfig) -> u8 {
    if cfg.copy_traffic_class {
        tos
    } else {
        0
    }
}

/// §4.1 Next Header: ICMPv4 becomes ICMPv6, anything else is copied.
fn next_header(p: u8) -> u8 {
    if p == ip_proto::ICMP {
        ip_proto::ICMPV6
    } else {
        p
    }
}

/// Move the front of the packet so that `old` leading bytes become `new`
/// bytes (the bytes after them stay where they are).
fn resize_front(buf: &mut PacketBuf, old: usize, new: usize) -> Result<(), DropReason> {
    if new >= old {
        if !buf.prepend(new - old) {
            return Err(DropReason::NoHeadroom);
        }
    } else if !buf.adj(old - new) {
        return Err(DropReason::Truncated);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Public API.

/// Translate the IPv4 packet in `buf` into IPv6 per RFC 7915 §4, using the
/// addresses and ports of `plan` (and `plan.inner` for ICMP errors).
pub fn translate_4to6(
    buf: &mut PacketBuf,
    plan: &Plan<Ipv6Addr>,
    cfg: &XlatConfig,
    _st: &mut XlatState,
) -> Verdict {
    if let Some(verdict) = translate_simple(buf, plan, cfg) {
        return verdict;
    }
    match translate(buf, plan, cfg) {
        Ok(v) => v,
        Err(r) => Verdict::Drop(r),
    }
}

/// The simple-packet path, taken first: §4.1 for a packet with nothing to decide
/// (no options, not a fragment, valid header checksum, unicast source, TTL
/// above 1, fitting the IPv6 link without fragmentation, headroom for the
/// 20 more bytes), then §4.5 for TCP and UDP (checksum not 0) or §4.2 for
/// Echo and Echo Reply.
///
/// Returns `None`, with the packet untouched, for anything else, and
/// [`translate`] then handles it in full: every check `translate` would
/// make either passes here or sends the packet there, so the outcome is the
/// same. The header is read once, as a fixed 20-byte array.
fn translate_simple(
    buf: &mut PacketBuf,
    plan: &Plan<Ipv6Addr>,
    cfg: &XlatConfig,
) -> Option<Verdict> {
    let hdr = simple_header(buf, cfg)?;
    if !matches!(
        Ipv4Packet::new_unchecked(&hdr[..]).protocol(),
        ip_proto::TCP | ip_proto::UDP | ip_proto::ICMP
    ) {
        return None;
    }
    rewrite_simple(buf, &plan.outer, cfg)?;
    Some(Verdict::Forward)
}

/// The header checks of [`translate_simple`], whatever the protocol: the
/// header (a copy) when they pass.
#[inline(always)]
fn simple_header(buf: &PacketBuf, cfg: &XlatConfig) -> Option<[u8; IPV4_HDR]> {
    if buf.headroom() < IPV6_HDR - IPV4_HDR {
        return None;
    }
    let data = buf.data();
    let hdr = data.first_chunk::<IPV4_HDR>()?;
    let ip = Ipv4Packet::new_unchecked(&hdr[..]);
    let total = usize::from(ip.total_len());
    // 0x45: version 4, IHL 5 (so no options, and no source route).
    if hdr[0] != 0x45
        || total < IPV4_HDR
        || total > data.len()
        || ip.more_frags()
        || ip.frag_offset() != 0
        || ip.ttl() <= 1
        || martian(ip.src_addr())
        || csum::sum_fixed(hdr) != 0xFFFF
    {
        return None;
    }
    // §4.1 Payload Length: Total Length minus the header; §4 / §4.1: a
    // DF=1 packet must fit the IPv6 link, a DF=0 one the lowest IPv6 MTU
    // too (else it is fragmented).
    let mtu = if ip.dont_frag() {
        cfg.ipv6_mtu
    } else {
        cfg.lowest_ipv6_mtu.min(cfg.ipv6_mtu)
    };
    if IPV6_HDR + total - IPV4_HDR > usize::from(mtu) {
        return None;
    }
    Some(*hdr)
}

/// The rewrite of [`translate_simple`], for a packet that passed
/// `simple_header` with TCP, UDP or ICMP: §4.5 (or §4.2 for Echo and Echo
/// Reply), then §4.1. `None`, with the packet untouched, when the transport
/// header refuses (too short, a UDP checksum of 0, ICMP other than echo);
/// else the buffer holds the IPv6 packet. [`simple4`] makes the same checks
/// for a fast path.
#[inline(always)]
pub(crate) fn rewrite_simple(
    buf: &mut PacketBuf,
    outer: &Rewrite<Ipv6Addr>,
    cfg: &XlatConfig,
) -> Option<()> {
    if buf.headroom() < IPV6_HDR - IPV4_HDR {
        return None;
    }
    let data = buf.data_mut();
    let (hdr, rest) = data.split_first_chunk_mut::<IPV4_HDR>()?;
    let ip = Ipv4Packet::new_unchecked(&*hdr);
    let total = usize::from(ip.total_len());
    let proto = ip.protocol();
    let l4_len = total.checked_sub(IPV4_HDR)?;
    let fields = V6Fields {
        tc: traffic_class(ip.tos(), cfg),
        payload_len: l4_len,
        next: next_header(proto),
        hop: ip.ttl().wrapping_sub(1),
        src: &outer.src,
        dst: &outer.dst,
    };
    // Anything after Total Length is link-layer padding.
    let seg = rest.get_mut(..l4_len)?;
    if proto == ip_proto::ICMP {
        // §4.2 Echo / Echo Reply only; other ICMP takes the full path.
        let t = *seg.first()?;
        if t != icmpv4_type::ECHO_REQUEST && t != icmpv4_type::ECHO_REPLY {
            return None;
        }
        // Fails (too short) before changing a byte.
        echo_to_v6(seg, outer.src_port, &outer.src, &outer.dst, l4_len).ok()?;
    } else {
        // §4.5: the pseudo-header changes from IPv4 to IPv6 addresses
        // (protocol and length are the same numbers) and the ports change.
        let old_addrs = csum::sum_fixed(hdr[12..].first_chunk::<8>()?);
        let new = sum6(&outer.src)
            + sum6(&outer.dst)
            + u32::from(outer.src_port)
            + u32::from(outer.dst_port);
        rewrite_ports_simple(seg, proto, old_addrs, new, outer)?;
    }
    buf.truncate(total);
    // The headroom was checked first.
    let grown = buf.prepend(IPV6_HDR - IPV4_HDR);
    debug_assert!(grown);
    // Always there: the packet held 20 bytes and grew by 20.
    if let Some(out) = buf.data_mut().first_chunk_mut::<IPV6_HDR>() {
        write_ipv6_header(out, &fields);
    }
    Some(())
}

/// A simple TCP or UDP packet (UDP with a checksum) that `translate_simple`
/// takes: its tuple, as the established fast path of the stateful NAT64
/// reads it; `None` for anything else. For what this accepts, [`flow4`]
/// gives the same tuple (no inner tuple, not a fragment, the same TCP
/// flags) and [`translate_4to6`] with an outer rewrite `r` does what
/// `rewrite_simple` with `r` does, which cannot refuse it: unit tests
/// compare them.
#[inline(always)]
pub fn simple4(buf: &PacketBuf, cfg: &XlatConfig) -> Option<SimpleFlow<Ipv4Addr>> {
    let hdr = simple_header(buf, cfg)?;
    let ip = Ipv4Packet::new_unchecked(&hdr[..]);
    let total = usize::from(ip.total_len());
    let seg = buf.data().get(IPV4_HDR..total)?;
    let (l4, src_port, dst_port, tcp_flags) = super::tcp_udp_ports(ip.protocol(), seg)?;
    // A UDP checksum of 0 is the full path's to compute or drop.
    if l4 == L4::Udp && seg.get(6..8) == Some(&[0, 0][..]) {
        return None;
    }
    Some(SimpleFlow {
        tuple: Tuple {
            l4,
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            src_port,
            dst_port,
        },
        tcp_flags,
    })
}

/// §4.5 for [`translate_simple`]: new ports and the checksum updated from
/// the sums `old_addrs` (IPv4 addresses) to `new` (IPv6 addresses and new
/// ports). `None`, with nothing changed, for a header that is too short or
/// a UDP checksum of 0 (which the full path computes or drops).
#[inline]
fn rewrite_ports_simple(
    seg: &mut [u8],
    proto: u8,
    old_addrs: u32,
    new: u32,
    outer: &Rewrite<Ipv6Addr>,
) -> Option<()> {
    if proto == ip_proto::TCP {
        TcpPacket::new_checked(&*seg).ok()?;
        let mut tcp = TcpPacket::new_unchecked(seg.first_chunk_mut::<{ wire::tcp::HEADER_LEN }>()?);
        let old = old_addrs + u32::from(tcp.src_port()) + u32::from(tcp.dst_port());
        tcp.set_src_port(outer.src_port);
        tcp.set_dst_port(outer.dst_port);
        tcp.set_checksum(csum::update(tcp.checksum(), old, new));
    } else {
        let mut udp = UdpPacket::new_unchecked(seg.first_chunk_mut::<{ wire::udp::HEADER_LEN }>()?);
        if udp.checksum() == 0 {
            return None;
        }
        let old = old_addrs + u32::from(udp.src_port()) + u32::from(udp.dst_port());
        udp.set_src_port(outer.src_port);
        udp.set_dst_port(outer.dst_port);
        let c = csum::update(udp.checksum(), old, new);
        // A UDP checksum of 0 means "none": send 0xffff (RFC 768).
        udp.set_checksum(if c == 0 { 0xffff } else { c });
    }
    Some(())
}

/// Everything [`translate_simple`] leaves: the whole of §4. Kept out of
/// line so the simple-packet path does not pay for its stack frame.
#[inline(never)]
fn translate(
    buf: &mut PacketBuf,
    plan: &Plan<Ipv6Addr>,
    cfg: &XlatConfig,
) -> Result<Verdict, DropReason> {
    let h = V4Hdr::parse(buf.data())?;
    if !Ipv4Packet::new_unchecked(buf.data()).verify_checksum() {
        return Err(DropReason::BadIpv4Checksum);
    }
    // §4.1 Source Address: an illegal source (RFC 1812 §5.3.7) SHOULD be
    // silently dropped.
    if martian(h.src) {
        return Err(DropReason::MartianSource);
    }
    // Anything after Total Length is link-layer padding.
    buf.truncate(h.total);
    let is_error = carries_icmp_error(buf.data(), &h);

    // §4.1 Hop Limit: the translator is a router and decrements the TTL;
    // reaching zero means ICMPv4 Time Exceeded, never in answer to an error.
    if h.ttl <= 1 {
        if is_error {
            return Err(DropReason::TtlExpiredOnError);
        }
        return Ok(icmpv4_error(buf, icmpv4_type::TIME_EXCEEDED, 0, 0, cfg));
    }

    // §4.1: options are ignored, except an unexpired source route: the
    // packet is discarded and Destination Unreachable / Source Route Failed
    // (3/5) SHOULD be returned. We do return it; icmpv4_error drops
    // (DropReason::SourceRoute) where no error may be sent.
    let opts = buf
        .data()
        .get(IPV4_HDR..h.ihl)
        .ok_or(DropReason::Truncated)?;
    if unexpired_source_route(opts)? {
        return Ok(icmpv4_error(buf, icmpv4_type::DST_UNREACHABLE, 5, 0, cfg));
    }

    // A fragment reaching past the 65535-byte datagram limit (RFC 791) has
    // no valid translation.
    if h.frag_off + h.l4_len() > 0xffff {
        return Err(DropReason::Fragment);
    }

    match h.proto {
        ip_proto::ICMP => translate_icmp(buf, &h, plan, cfg),
        // §4.2 (IGMP messages): single-hop, SHOULD be silently dropped.
        IGMP => Err(DropReason::UnknownProtocol),
        _ => translate_transport(buf, &h, &plan.outer, cfg),
    }
}

/// How the header is laid out after §4.1 size decisions.
struct Shape {
    /// Add a Fragment header.
    frag_hdr: bool,
    /// What to return once the header is written.
    verdict: Verdict,
}

/// §4 / §4.1 fragmentation and MTU decisions for a non-error packet.
/// `Err(verdict)` is an ICMPv4 error already written into `buf`.
fn shape(buf: &mut PacketBuf, h: &V4Hdr, cfg: &XlatConfig) -> Result<Shape, Verdict> {
    // §4.1: a Fragment header when the IPv4 packet is a fragment ...
    let frag_hdr = h.is_fragment();
    let size = IPV6_HDR + if frag_hdr { FRAG_HDR } else { 0 } + h.l4_len();
    if h.df {
        // Path MTU discovery runs end to end: too big for the IPv6 link is
        // Fragmentation Needed with the MTU the IPv4 sender must use.
        if size > usize::from(cfg.ipv6_mtu) {
            // The IPv4 size that translates to exactly the IPv6 MTU.
            let mtu4 = (usize::from(cfg.ipv6_mtu) + h.total)
                .saturating_sub(size)
                .min(0xffff);
            let mtu4 = mtu4 as u32;
            return Err(icmpv4_error(
                buf,
                icmpv4_type::DST_UNREACHABLE,
                4,
                mtu4,
                cfg,
            ));
        }
        return Ok(Shape {
            frag_hdr,
            verdict: Verdict::Forward,
        });
    }
    // ... or DF=0 and it would not fit the lowest IPv6 MTU: the translator
    // fragments it (the caller, with fragment_ipv6). Never above our own
    // link's MTU either.
    let mtu = cfg.lowest_ipv6_mtu.min(cfg.ipv6_mtu);
    if size > usize::from(mtu) {
        return Ok(Shape {
            frag_hdr: true,
            verdict: Verdict::Fragment { mtu },
        });
    }
    Ok(Shape {
        frag_hdr,
        verdict: Verdict::Forward,
    })
}

/// Replace the IPv4 header at the front of `buf` by the IPv6 header (+
/// Fragment header), §4.1. The payload stays where it is.
fn write_outer_header(
    buf: &mut PacketBuf,
    h: &V4Hdr,
    outer: &Rewrite<Ipv6Addr>,
    cfg: &XlatConfig,
    frag_hdr: bool,
) -> Result<(), DropReason> {
    let new_len = IPV6_HDR + if frag_hdr { FRAG_HDR } else { 0 };
    resize_front(buf, h.ihl, new_len)?;
    let nh = next_header(h.proto);
    let fields = V6Fields {
        tc: traffic_class(h.tos, cfg),
        payload_len: new_len - IPV6_HDR + h.l4_len(),
        next: if frag_hdr { ip_proto::IPV6_FRAG } else { nh },
        hop: h.ttl - 1,
        src: &outer.src,
        dst: &outer.dst,
    };
    put_ipv6_header(buf.data_mut(), 0, &fields)?;
    if frag_hdr {
        put_frag_header(buf.data_mut(), IPV6_HDR, nh, h)?;
    }
    Ok(())
}

/// §4.5: TCP, UDP and other transports behind a translated header.
fn translate_transport(
    buf: &mut PacketBuf,
    h: &V4Hdr,
    outer: &Rewrite<Ipv6Addr>,
    cfg: &XlatConfig,
) -> Result<Verdict, DropReason> {
    // Only a first fragment holds the transport header.
    let first = h.frag_off == 0;
    let mut udp_zero = false;
    if first {
        let seg = buf.data().get(h.ihl..).ok_or(DropReason::Truncated)?;
        match h.proto {
            ip_proto::TCP => {
                TcpPacket::new_checked(seg).map_err(bad)?;
            }
            ip_proto::UDP => {
                let udp = UdpPacket::new_checked_header(seg).map_err(bad)?;
                if udp.checksum() == 0 {
                    // §4.5: UDP checksum 0 is computed afresh if configured,
                    // which needs the whole datagram: not so for a fragment.
                    if h.is_fragment() || !cfg.amend_udp_checksum_zero {
                        return Err(DropReason::UdpChecksumZero);
                    }
                    UdpPacket::new_checked(seg).map_err(bad)?;
                    udp_zero = true;
                }
            }
            _ => {}
        }
    }

    let sh = match shape(buf, h, cfg) {
        Ok(s) => s,
        Err(v) => return Ok(v),
    };

    if first {
        // §4.5: the pseudo-header changes from IPv4 to IPv6 addresses
        // (protocol and length are the same numbers) and the ports change.
        let old_addrs = sum4(h.src) + sum4(h.dst);
        let new_ports = u32::from(outer.src_port) + u32::from(outer.dst_port);
        let new = sum6(&outer.src) + sum6(&outer.dst) + new_ports;
        let seg = buf
            .data_mut()
            .get_mut(h.ihl..)
            .ok_or(DropReason::Truncated)?;
        match h.proto {
            ip_proto::TCP => {
                let mut tcp = TcpPacket::new_checked(seg).map_err(bad)?;
                let old = old_addrs + u32::from(tcp.src_port()) + u32::from(tcp.dst_port());
                tcp.set_src_port(outer.src_port);
                tcp.set_dst_port(outer.dst_port);
                tcp.set_checksum(csum::update(tcp.checksum(), old, new));
            }
            ip_proto::UDP => {
                let mut udp = UdpPacket::new_checked_header(seg).map_err(bad)?;
                let old = old_addrs + u32::from(udp.src_port()) + u32::from(udp.dst_port());
                udp.set_src_port(outer.src_port);
                udp.set_dst_port(outer.dst_port);
                if udp_zero {
                    // §4.5 option 2: calculate the IPv6 checksum.
                    let mut udp = UdpPacket::new_checked(udp.into_inner()).map_err(bad)?;
                    udp.fill_checksum_v6(&outer.src, &outer.dst);
                } else {
                    let c = csum::update(udp.checksum(), old, new);
                    // A UDP checksum of 0 means "none": send 0xffff (RFC 768).
                    udp.set_checksum(if c == 0 { 0xffff } else { c });
                }
            }
            // §4.5: other transports are forwarded untouched.
            _ => {}
        }
    }
    write_outer_header(buf, h, outer, cfg, sh.frag_hdr)?;
    Ok(sh.verdict)
}

/// §4.2: ICMPv4 → ICMPv6.
fn translate_icmp(
    buf: &mut PacketBuf,
    h: &V4Hdr,
    plan: &Plan<Ipv6Addr>,
    cfg: &XlatConfig,
) -> Result<Verdict, DropReason> {
    if h.is_fragment() {
        // Deviation: the ICMPv6 checksum covers a pseudo-header holding the
        // whole message's length, unknown in a single fragment; without
        // reassembly a fragmented ICMPv4 message cannot be translated.
        return Err(DropReason::Fragment);
    }
    let msg = buf.data().get(h.ihl..).ok_or(DropReason::Truncated)?;
    let msg = Icmpv4Packet::new_checked(msg).map_err(bad)?;
    match msg.msg_type() {
        icmpv4_type::ECHO_REQUEST | icmpv4_type::ECHO_REPLY => {
            translate_echo(buf, h, &plan.outer, cfg)
        }
        icmpv4_type::DST_UNREACHABLE | icmpv4_type::TIME_EXCEEDED | icmpv4_type::PARAM_PROBLEM => {
            translate_icmp_error(buf, h, plan, cfg)
        }
        // §4.2: Information Request/Reply, Timestamp, Address Mask, Router
        // Advertisement/Solicitation, Source Quench, Redirect, Alternative
        // Host Address and unknown types: silently drop.
        _ => Err(DropReason::IcmpUntranslatable),
    }
}

/// The ICMPv6 echo type for an ICMPv4 echo type (8 → 128, 0 → 129).
fn echo_type_v6(t4: u8) -> u8 {
    if t4 == icmpv4_type::ECHO_REQUEST {
        icmpv6_type::ECHO_REQUEST
    } else {
        icmpv6_type::ECHO_REPLY
    }
}

/// Rewrite an ICMPv4 echo message (at least its 8 header bytes) into
/// ICMPv6 with identifier `ident`, updating the checksum for the type, the
/// identifier and the ICMPv6 pseudo-header of a `len`-byte message.
fn echo_to_v6(
    msg: &mut [u8],
    ident: u16,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    len: usize,
) -> Result<(), DropReason> {
    let m4 = Icmpv4Packet::new_checked(&*msg).map_err(bad)?;
    let (t4, code) = (m4.msg_type(), m4.msg_code());
    let t6 = echo_type_v6(t4);
    let old = u32::from(u16::from_be_bytes([t4, code])) + u32::from(m4.echo_ident());
    let new = u32::from(u16::from_be_bytes([t6, code]))
        + u32::from(ident)
        + csum::pseudo_v6(src, dst, ip_proto::ICMPV6, len as u32);
    let c = csum::update(m4.checksum(), old, new);
    let mut m6 = Icmpv6Packet::new_checked(msg).map_err(bad)?;
    m6.set_msg_type(t6);
    m6.set_echo_ident(ident);
    m6.set_checksum(c);
    Ok(())
}

/// §4.2 Echo / Echo Reply: types 8/0 → 128/129, identifier from the plan,
/// checksum updated for the type, identifier and the ICMPv6 pseudo-header.
fn translate_echo(
    buf: &mut PacketBuf,
    h: &V4Hdr,
    outer: &Rewrite<Ipv6Addr>,
    cfg: &XlatConfig,
) -> Result<Verdict, DropReason> {
    let sh = match shape(buf, h, cfg) {
        Ok(s) => s,
        Err(v) => return Ok(v),
    };
    let msg = buf
        .data_mut()
        .get_mut(h.ihl..)
        .ok_or(DropReason::Truncated)?;
    echo_to_v6(msg, outer.src_port, &outer.src, &outer.dst, h.l4_len())?;
    write_outer_header(buf, h, outer, cfg, sh.frag_hdr)?;
    Ok(sh.verdict)
}

/// RFC 1191 §7 plateau table.
const PLATEAUS: [u16; 11] = [
    65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68,
];

/// §4.2 Packet Too Big MTU: maximum(1280, minimum(MTU + 20,
/// MTU_of_IPv6_nexthop, MTU_of_IPv4_nexthop + 20)); an MTU of 0 (a router
/// without RFC 1191) is replaced by the greatest plateau below the quoted
/// Total Length.
fn packet_too_big_mtu(next_hop_mtu: u16, quoted_total: u16, cfg: &XlatConfig) -> u32 {
    let mtu4 = if next_hop_mtu == 0 {
        // "greatest plateau value that is less than the returned Total
        // Length field, but that is larger than or equal to 1280": a
        // plateau below 1280 ends as 1280 through the maximum() below.
        PLATEAUS
            .iter()
            .copied()
            .find(|&p| p < quoted_total)
            .unwrap_or(0)
    } else {
        next_hop_mtu
    };
    let m = (u32::from(mtu4) + 20)
        .min(u32::from(cfg.ipv6_mtu))
        .min(u32::from(cfg.ipv4_mtu) + 20);
    m.max(IPV6_MIN_MTU as u32)
}

/// §4.2 Figure 3: IPv4 pointer → IPv6 pointer (`None`: n/a, drop).
fn param_problem_pointer(p4: u8) -> Option<u32> {
    match p4 {
        0 => Some(0),        // Version/IHL -> Version/Traffic Class
        1 => Some(1),        // Type Of Service -> Traffic Class/Flow Label
        2 | 3 => Some(4),    // Total Length -> Payload Length
        8 => Some(7),        // Time to Live -> Hop Limit
        9 => Some(6),        // Protocol -> Next Header
        12..=15 => Some(8),  // Source Address
        16..=19 => Some(24), // Destination Address
        _ => None,           // Identification, Flags/Offset, Checksum, options
    }
}

/// §4.2 error type/code mapping: (ICMPv6 type, code, bytes 4..8).
fn map_icmp_error(
    msg: &Icmpv4Packet<&[u8]>,
    cfg: &XlatConfig,
) -> Result<(u8, u8, u32), DropReason> {
    let code = msg.msg_code();
    let untranslatable = Err(DropReason::IcmpUntranslatable);
    match msg.msg_type() {
        icmpv4_type::DST_UNREACHABLE => match code {
            // Net/Host Unreachable, Source Route Failed, 6, 7, 8, 11, 12:
            // No route to destination.
            0 | 1 | 5 | 6 | 7 | 8 | 11 | 12 => Ok((icmpv6_type::DST_UNREACHABLE, 0, 0)),
            // Protocol Unreachable: Parameter Problem 4/1 at Next Header.
            2 => Ok((icmpv6_type::PARAM_PROBLEM, 1, 6)),
            // Port Unreachable.
            3 => Ok((icmpv6_type::DST_UNREACHABLE, 4, 0)),
            // Fragmentation Needed: Packet Too Big.
            4 => {
                let quoted_total = get16(msg.payload(), 2)?;
                let mtu = packet_too_big_mtu(msg.next_hop_mtu(), quoted_total, cfg);
                Ok((icmpv6_type::PACKET_TOO_BIG, 0, mtu))
            }
            // Administratively prohibited (9, 10, 13) and Precedence cutoff
            // (15): Communication administratively prohibited.
            9 | 10 | 13 | 15 => Ok((icmpv6_type::DST_UNREACHABLE, 1, 0)),
            // 14 Host Precedence Violation and unknown codes: drop.
            _ => untranslatable,
        },
        // Time Exceeded: type 3, code unchanged.
        icmpv4_type::TIME_EXCEEDED => Ok((icmpv6_type::TIME_EXCEEDED, code, 0)),
        icmpv4_type::PARAM_PROBLEM => match code {
            // Pointer indicates the error / Bad length: Erroneous header
            // field, pointer per Figure 3.
            0 | 2 => match param_problem_pointer(msg.pointer()) {
                Some(p) => Ok((icmpv6_type::PARAM_PROBLEM, 0, p)),
                None => untranslatable,
            },
            // Missing a required option, unknown codes: drop.
            _ => untranslatable,
        },
        _ => untranslatable,
    }
}

/// §4.2 + §4.3: an ICMPv4 error and the packet it quotes.
///
/// Layout before: `[IPv4 ihl][ICMPv4 8][inner IPv4 ihl'][inner L4 ...]`,
/// after: `[IPv6 40][ICMPv6 8][inner IPv6 40 (+8)][inner L4 ...]`: the
/// inner transport bytes stay in place and everything in front of them is
/// rewritten into the headroom, so nothing is copied but headers.
fn translate_icmp_error(
    buf: &mut PacketBuf,
    h: &V4Hdr,
    plan: &Plan<Ipv6Addr>,
    cfg: &XlatConfig,
) -> Result<Verdict, DropReason> {
    let inner = plan.inner.as_ref().ok_or(DropReason::IcmpInnerBad)?;
    let msg = buf.data().get(h.ihl..).ok_or(DropReason::Truncated)?;
    let msg = Icmpv4Packet::new_checked(msg).map_err(bad)?;
    // The error is rebuilt with a fresh checksum: make sure we do not
    // launder a corrupt one.
    if !msg.verify_checksum() {
        return Err(DropReason::BadIcmpChecksum);
    }
    let (t6, c6, rest6) = map_icmp_error(&msg, cfg)?;
    let quoted = msg.payload();
    let ih = V4Hdr::parse_quoted(quoted).map_err(|_| DropReason::IcmpInnerBad)?;
    let inner_l4 = quoted.get(ih.ihl..).ok_or(DropReason::IcmpInnerBad)?;
    let inner_first = ih.frag_off == 0;
    // RFC 792: the quote holds the header and at least 8 data bytes.
    if inner_first && inner_l4.len() < 8 {
        return Err(DropReason::IcmpInnerBad);
    }
    if inner_first && ih.proto == ip_proto::ICMP {
        let it = get8(inner_l4, 0)?;
        // §4.3: stop at the first embedded header: an error inside an error
        // (or any non-echo message) is not translated.
        if it != icmpv4_type::ECHO_REQUEST && it != icmpv4_type::ECHO_REPLY {
            return Err(DropReason::IcmpInnerBad);
        }
    }

    let inner_frag = ih.is_fragment();
    let inner_hdr6 = IPV6_HDR + if inner_frag { FRAG_HDR } else { 0 };
    let old_front = h.ihl + ICMP_HDR + ih.ihl;
    let new_front = IPV6_HDR + ICMP_HDR + inner_hdr6;

    // §4.2 "ICMP Error Payload": an RFC 4884 extension follows the original
    // datagram field, whose length grows with the translation; the ICMPv6
    // length attribute counts 8-byte words, so the field is padded to a
    // multiple of 8 (and to at least 128 bytes, RFC 4884 §4.5).
    let mut orig = quoted.len();
    let mut ext = Ext::default();
    if let Some(o) = rfc4884_original_len(&msg) {
        if o >= ih.ihl + 8 {
            orig = o;
            let orig6 = inner_hdr6 + (o - ih.ihl);
            let padded = orig6.div_ceil(8).max(16) * 8;
            // Only ICMPv6 Destination Unreachable and Time Exceeded carry
            // extensions (RFC 4884 §4.5); for the others, and where the
            // padding finds no tailroom, the extension is left out.
            let carries = t6 == icmpv6_type::DST_UNREACHABLE || t6 == icmpv6_type::TIME_EXCEEDED;
            if carries && buf.tailroom() >= padded - orig6 {
                ext = Ext {
                    len: quoted.len() - o,
                    pad: padded - orig6,
                    words: (padded / 8) as u8,
                };
            }
        }
    }
    let inner_l4_len = orig - ih.ihl;
    // RFC 4443 §2.4 (c): as much of the invoking packet as fits in 1280;
    // an extension that does not fit is "simply truncated" (§4.2).
    let final_len = (new_front + inner_l4_len + ext.pad + ext.len).min(IPV6_MIN_MTU);
    if final_len > usize::from(cfg.ipv6_mtu) {
        return Err(DropReason::TooBig);
    }
    buf.truncate(old_front + inner_l4_len + ext.len);

    // §4.3: the inner transport header gets the inner plan's ports and its
    // checksum the IPv4 → IPv6 pseudo-header change.
    if inner_first {
        let seg = window(buf.data_mut(), old_front, inner_l4_len)?;
        rewrite_inner_l4(seg, &ih, inner)?;
    }

    resize_front(buf, old_front, new_front)?;
    if ext.pad > 0 {
        // Move the extension behind the padding of the longer field.
        let at = new_front + inner_l4_len;
        if !buf.append(ext.pad) {
            return Err(DropReason::NoHeadroom);
        }
        let data = buf.data_mut();
        if at + ext.len + ext.pad > data.len() {
            return Err(DropReason::Truncated);
        }
        data.copy_within(at..at + ext.len, at + ext.pad);
        window(data, at, ext.pad)?.fill(0);
    }
    let data = buf.data_mut();
    let outer_fields = V6Fields {
        tc: traffic_class(h.tos, cfg),
        payload_len: 0, // set below, after truncation
        next: ip_proto::ICMPV6,
        hop: h.ttl - 1,
        src: &plan.outer.src,
        dst: &plan.outer.dst,
    };
    put_ipv6_header(data, 0, &outer_fields)?;
    // §4.3: the quoted header is translated like any header, except that
    // its TTL is not decremented.
    let inh = next_header(ih.proto);
    let inner_fields = V6Fields {
        tc: traffic_class(ih.tos, cfg),
        payload_len: inner_hdr6 - IPV6_HDR + ih.l4_len(),
        next: if inner_frag { ip_proto::IPV6_FRAG } else { inh },
        hop: ih.ttl,
        src: &inner.src,
        dst: &inner.dst,
    };
    put_ipv6_header(data, IPV6_HDR + ICMP_HDR, &inner_fields)?;
    if inner_frag {
        put_frag_header(data, IPV6_HDR + ICMP_HDR + IPV6_HDR, inh, &ih)?;
    }

    buf.truncate(final_len);
    let data = buf.data_mut();
    if data.len() < IPV6_HDR + ICMP_HDR {
        return Err(DropReason::Truncated);
    }
    let (head, msg6) = data.split_at_mut(IPV6_HDR);
    Ipv6Packet::new_unchecked(head).set_payload_len(msg6.len() as u16);
    let mut m = Icmpv6Packet::new_checked(msg6).map_err(bad)?;
    m.set_msg_type(t6);
    m.set_msg_code(c6);
    if t6 == icmpv6_type::PACKET_TOO_BIG {
        m.set_mtu(rest6);
    } else {
        // Parameter Problem pointer; zero ("unused") for the others.
        m.set_pointer(rest6);
    }
    if ext.len > 0 {
        // RFC 4884 §4.5: the ICMPv6 length attribute is byte 4.
        m.set_pointer(u32::from(ext.words) << 24);
    }
    m.fill_checksum(&plan.outer.src, &plan.outer.dst);
    Ok(Verdict::Forward)
}

/// An RFC 4884 extension carried into the ICMPv6 error.
#[derive(Debug, Default, Clone, Copy)]
struct Ext {
    /// Bytes of the extension structure.
    len: usize,
    /// Zero bytes inserted before it.
    pad: usize,
    /// ICMPv6 length attribute: the padded original datagram in 8-byte words.
    words: u8,
}

/// RFC 4884 §4.5 / §5: the length of the "original datagram" field of an
/// ICMPv4 Destination Unreachable, Time Exceeded or Parameter Problem
/// (byte 5, in 4-byte words) when it announces an extension structure;
/// `None` when it is 0 or invalid (under 128 bytes, or nothing after it),
/// in which case the message is treated as having no extension.
fn rfc4884_original_len(msg: &Icmpv4Packet<&[u8]>) -> Option<usize> {
    let len = usize::from((msg.rest_of_header() >> 16) as u8) * 4;
    (len >= 128 && len < msg.payload().len()).then_some(len)
}

/// §4.3 + §4.5 on the (possibly cut short) transport header of a quoted
/// packet: ports from `inner`, checksums adjusted where they are present.
fn rewrite_inner_l4(
    seg: &mut [u8],
    ih: &V4Hdr,
    inner: &Rewrite<Ipv6Addr>,
) -> Result<(), DropReason> {
    match ih.proto {
        ip_proto::TCP | ip_proto::UDP => {
            let old = sum4(ih.src) + sum4(ih.dst) + csum::sum(seg.get(..4).unwrap_or(&[]));
            let new = sum6(&inner.src)
                + sum6(&inner.dst)
                + u32::from(inner.src_port)
                + u32::from(inner.dst_port);
            put16(seg, 0, inner.src_port)?;
            put16(seg, 2, inner.dst_port)?;
            let is_udp = ih.proto == ip_proto::UDP;
            let ck_at = if is_udp { 6 } else { 16 };
            // The TCP checksum may lie beyond the quoted bytes; an inner UDP
            // checksum of 0 stays 0 (the datagram is not here to compute it).
            if let Ok(ck) = get16(seg, ck_at) {
                if !(is_udp && ck == 0) {
                    let c = csum::update(ck, old, new);
                    put16(seg, ck_at, if is_udp && c == 0 { 0xffff } else { c })?;
                }
            }
        }
        ip_proto::ICMP => {
            // Quoted echo: 8/0 → 128/129, identifier from the plan, checksum
            // gains the ICMPv6 pseudo-header of the quoted packet.
            echo_to_v6(seg, inner.src_port, &inner.src, &inner.dst, ih.l4_len())?;
        }
        _ => {}
    }
    Ok(())
}

/// RFC 1812 §5.3.7: a source address that names no single host.
fn martian(a: Ipv4Addr) -> bool {
    let first = a.octets()[0];
    first == 0 // "this network", zero address
        || first == 127 // loopback
        || first >= 224 // multicast, class E, limited broadcast
}

/// RFC 7915 §4.4 / RFC 1812 §4.3.2.7: may this packet be sent an error?
fn may_answer(h: &V4Hdr) -> bool {
    !martian(h.src) && !h.dst.is_multicast() && !h.dst.is_broadcast()
}

/// Replace the packet in `buf` by an ICMPv4 error (`icmp_type`/`code`, bytes
/// 4..8 = `rest_of_header`) from `cfg.own_ipv4` to the packet's source,
/// quoting as much of it as keeps the error within 576 bytes (RFC 1812
/// §4.3.2.3). Errors, non-first fragments and non-unicast sources are never
/// answered (RFC 1812 §4.3.2.7): those are dropped.
pub fn icmpv4_error(
    buf: &mut PacketBuf,
    icmp_type: u8,
    code: u8,
    rest_of_header: u32,
    cfg: &XlatConfig,
) -> Verdict {
    match build_icmpv4_error(buf, icmp_type, code, rest_of_header, cfg) {
        Ok(v) => v,
        Err(r) => Verdict::Drop(r),
    }
}

fn build_icmpv4_error(
    buf: &mut PacketBuf,
    icmp_type: u8,
    code: u8,
    rest_of_header: u32,
    cfg: &XlatConfig,
) -> Result<Verdict, DropReason> {
    use DropReason as D;
    use ReplyReason as R;
    // The reply reason, and the drop reason when no error may be sent.
    let (reason, suppressed) = match (icmp_type, code) {
        (icmpv4_type::DST_UNREACHABLE, 4) => (R::PacketTooBig, D::TooBig),
        (icmpv4_type::DST_UNREACHABLE, 5) => (R::DestinationUnreachable, D::SourceRoute),
        (icmpv4_type::DST_UNREACHABLE, _) => (R::DestinationUnreachable, D::IcmpErrorSuppressed),
        (icmpv4_type::TIME_EXCEEDED, _) => (R::TimeExceeded, D::TtlExpiredOnError),
        (icmpv4_type::PARAM_PROBLEM, _) => (R::ParameterProblem, D::IcmpErrorSuppressed),
        _ => return Err(D::IcmpUntranslatable),
    };
    let h = V4Hdr::parse(buf.data())?;
    if h.frag_off != 0 || carries_icmp_error(buf.data(), &h) || !may_answer(&h) {
        return Err(suppressed);
    }
    const FRONT: usize = IPV4_HDR + ICMP_HDR;
    let quote = h.total.min(ICMPV4_ERROR_MAX - FRONT);
    buf.truncate(quote);
    if !buf.prepend(FRONT) {
        // Not enough headroom: slide the quote back instead.
        let start = buf.start();
        let raw = buf.raw_mut();
        if start + FRONT + quote > raw.len() {
            return Err(D::NoHeadroom);
        }
        raw.copy_within(start..start + quote, start + FRONT);
        if !buf.set_bounds(start, FRONT + quote) {
            return Err(D::NoHeadroom);
        }
    }
    let data = buf.data_mut();
    if data.len() < FRONT {
        return Err(D::Truncated);
    }
    let (head, msg) = data.split_at_mut(IPV4_HDR);
    let mut ip = Ipv4Packet::new_unchecked(head);
    ip.set_version(4);
    ip.set_header_len(IPV4_HDR);
    ip.set_tos(0);
    ip.set_total_len((FRONT + quote) as u16);
    // DF=1, MF=0, offset 0: an atomic datagram, whose Identification may be
    // anything (RFC 6864 §4.1); we use 0.
    ip.set_ident(0);
    ip.clear_reserved_flag();
    ip.set_dont_frag(true);
    ip.set_more_frags(false);
    ip.set_frag_offset(0);
    ip.set_ttl(64);
    ip.set_protocol(ip_proto::ICMP);
    ip.set_src_addr(cfg.own_ipv4);
    ip.set_dst_addr(h.src);
    ip.fill_checksum();
    let mut m = Icmpv4Packet::new_checked(msg).map_err(bad)?;
    m.set_msg_type(icmp_type);
    m.set_msg_code(code);
    m.set_rest_of_header(rest_of_header);
    m.fill_checksum();
    Ok(Verdict::Reply(reason))
}

/// Classify an IPv4 packet for RFC 6146 §3.4 without changing it: its
/// tuple, the tuple an ICMP error quotes, TCP flags, non-first fragment.
/// A packet translation would refuse for its header (checksum, illegal
/// source) is refused here already, before it can take state (a session
/// under an existing BIB entry).
pub fn flow4(pkt: &[u8]) -> Result<Flow<Ipv4Addr>, DropReason> {
    let ip = Ipv4Packet::new_checked(pkt).map_err(bad)?;
    if !ip.verify_checksum() {
        return Err(DropReason::BadIpv4Checksum);
    }
    // §4.1 Source Address (RFC 1812 §5.3.7), as `translate`.
    if martian(ip.src_addr()) {
        return Err(DropReason::MartianSource);
    }
    let kind = match ip.protocol() {
        ip_proto::TCP => L4::Tcp,
        ip_proto::UDP => L4::Udp,
        ip_proto::ICMP => L4::Icmp,
        _ => return Err(DropReason::UnknownProtocol),
    };
    let mut flow = Flow {
        tuple: Tuple {
            l4: kind,
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            src_port: 0,
            dst_port: 0,
        },
        inner: None,
        tcp_flags: 0,
        non_first_fragment: ip.frag_offset() != 0,
        frag: (ip.more_frags() || ip.frag_offset() != 0).then(|| FragInfo {
            ident: u32::from(ip.ident()),
            offset: u32::from(ip.frag_offset()),
            len: ip.payload().len() as u32,
            more: ip.more_frags(),
        }),
    };
    // As translate_4to6: a fragmented ICMPv4 message is not translated.
    if flow.frag.is_some() && kind == L4::Icmp {
        return Err(DropReason::Fragment);
    }
    if flow.non_first_fragment {
        return Ok(flow);
    }
    let l4 = ip.payload();
    // A first fragment must carry the whole transport header (RFC 6146
    // §3.4 allows requiring it): a named drop.
    let fragmented = flow.frag.is_some();
    let short = |e| {
        if fragmented {
            DropReason::FirstFragmentShort
        } else {
            bad(e)
        }
    };
    match kind {
        L4::Tcp => {
            let tcp = TcpPacket::new_checked(l4).map_err(short)?;
            flow.tuple.src_port = tcp.src_port();
            flow.tuple.dst_port = tcp.dst_port();
            flow.tcp_flags = tcp.flags();
        }
        L4::Udp => {
            let udp = UdpPacket::new_checked_header(l4).map_err(short)?;
            flow.tuple.src_port = udp.src_port();
            flow.tuple.dst_port = udp.dst_port();
        }
        L4::Icmp => {
            let msg = Icmpv4Packet::new_checked(l4).map_err(bad)?;
            match msg.msg_type() {
                icmpv4_type::ECHO_REQUEST | icmpv4_type::ECHO_REPLY => {
                    flow.tuple.src_port = msg.echo_ident();
                    flow.tuple.dst_port = msg.echo_ident();
                }
                icmpv4_type::DST_UNREACHABLE
                | icmpv4_type::TIME_EXCEEDED
                | icmpv4_type::PARAM_PROBLEM => {
                    flow.inner = Some(quoted_tuple(msg.payload())?);
                }
                _ => return Err(DropReason::IcmpUntranslatable),
            }
        }
    }
    Ok(flow)
}

/// The tuple of the packet an ICMPv4 error quotes (its header and first 8
/// transport bytes).
fn quoted_tuple(q: &[u8]) -> Result<Tuple<Ipv4Addr>, DropReason> {
    let inner_bad = DropReason::IcmpInnerBad;
    let ih = V4Hdr::parse_quoted(q).map_err(|_| inner_bad)?;
    if ih.frag_off != 0 {
        return Err(inner_bad);
    }
    let l4 = q.get(ih.ihl..).ok_or(inner_bad)?;
    let (kind, sp, dp) = match ih.proto {
        ip_proto::TCP => (L4::Tcp, get16(l4, 0), get16(l4, 2)),
        ip_proto::UDP => (L4::Udp, get16(l4, 0), get16(l4, 2)),
        ip_proto::ICMP => {
            let m = Icmpv4Packet::new_checked(l4).map_err(|_| inner_bad)?;
            match m.msg_type() {
                icmpv4_type::ECHO_REQUEST | icmpv4_type::ECHO_REPLY => {
                    (L4::Icmp, Ok(m.echo_ident()), Ok(m.echo_ident()))
                }
                _ => return Err(inner_bad),
            }
        }
        _ => return Err(inner_bad),
    };
    Ok(Tuple {
        l4: kind,
        src: ih.src,
        dst: ih.dst,
        src_port: sp.map_err(|_| inner_bad)?,
        dst_port: dp.map_err(|_| inner_bad)?,
    })
}

/// Split the IPv6 packet `pkt`, which carries a Fragment header right after
/// its fixed header (as `translate_4to6` builds it for
/// `Verdict::Fragment`), into fragments of at most `mtu` bytes, handing each
/// to `out` in two parts, `out(head, piece)`: the fragment is `head`
/// followed by `piece` (the caller copies both where the fragment goes, so
/// no fragment-sized buffer is filled here; `piece` is empty when `pkt`
/// fits whole). Offsets are multiples of 8, M is set on all but the last
/// (or kept from the original), the identification is kept. Stops at the
/// first `false` from `out`; returns how many fragments `out` accepted.
pub fn fragment_ipv6(
    pkt: &[u8],
    mtu: u16,
    out: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> Result<usize, DropReason> {
    let ip = Ipv6Packet::new_checked(pkt).map_err(bad)?;
    if ip.next_header() != ip_proto::IPV6_FRAG {
        return Err(DropReason::Fragment);
    }
    let fh = Ipv6FragHeader::new_checked(ip.payload()).map_err(bad)?;
    let (base, more) = (usize::from(fh.frag_offset()), fh.more_frags());
    let front = IPV6_HDR + FRAG_HDR;
    let pkt = pkt
        .get(..IPV6_HDR + ip.payload().len())
        .ok_or(DropReason::Truncated)?;
    let mtu = usize::from(mtu).min(MAX_FRAGMENT);
    if pkt.len() <= mtu {
        return Ok(usize::from(out(pkt, &[])));
    }
    let chunk = mtu.saturating_sub(front) & !7;
    if chunk == 0 {
        return Err(DropReason::TooBig);
    }
    let body = pkt.get(front..).ok_or(DropReason::Truncated)?;
    // The last piece must still have an offset the 13-bit field can hold;
    // check before handing out anything.
    let pieces = body.len().div_ceil(chunk);
    if base + (pieces.max(1) - 1) * chunk > 0xfff8 {
        return Err(DropReason::TooBig);
    }
    // Only the headers are rewritten per fragment: 48 bytes on the stack.
    let mut head = [0u8; IPV6_HDR + FRAG_HDR];
    head.copy_from_slice(pkt.get(..front).ok_or(DropReason::Truncated)?);
    let mut n = 0;
    for (i, piece) in body.chunks(chunk).enumerate() {
        let last = i + 1 == pieces;
        let (ip, frag) = head.split_at_mut(IPV6_HDR);
        Ipv6Packet::new_unchecked(ip).set_payload_len((FRAG_HDR + piece.len()) as u16);
        let mut f = Ipv6FragHeader::new_unchecked(frag);
        f.set_frag_offset((base + i * chunk) as u16);
        f.set_more_frags(!last || more);
        if !out(&head, piece) {
            break;
        }
        n += 1;
    }
    Ok(n)
}
